#!/usr/bin/env bash
# dyco — test: tools/gdb/dyco.py in gdb -batch on a program stopped with
# three coroutines blocked in three places, live and then from a core file
# of it: the listing names their functions and states, and each one's
# backtrace runs from the call it waits in down to its function.
set -euo pipefail
prog=tools/gdb/stopped
dir="${TEST_TMPDIR:-$(mktemp -d)}"
commands=(
  -ex "info dyco-coroutines"
  -ex "dyco-coroutine bt 1"
  -ex "dyco-coroutine bt 2"
  -ex "dyco-coroutine bt 3"
  -ex "dyco-coroutine bt 4"
)
gdb -nx -batch \
  -ex "set debuginfod enabled off" \
  -ex "source tools/gdb/dyco.py" \
  -ex "break dyco_gdb_stop_here" \
  -ex run \
  "${commands[@]}" \
  -ex continue \
  "$prog" >"$dir/live.out" 2>&1 || true

# A core file the kernel writes (gdb's gcore reads memory a mapping at a
# time and loses the whole of one that holds a guard region: the stacks).
here=$PWD
core_ok=1
(
  cd "$dir"
  ulimit -c unlimited
  DYCO_GDB_ABORT=1 "$here/$prog" >/dev/null 2>&1
) || true
core=$(ls "$dir"/core* 2>/dev/null | head -1 || true)
if [ -z "$core" ]; then
  # Where the kernel's core_pattern sends cores elsewhere (a pipe to a
  # collector), this half cannot run here.
  echo "dyco_test: no core file in $dir (core_pattern: $(cat /proc/sys/kernel/core_pattern)); core half skipped"
  core_ok=0
else
  gdb -nx -batch \
    -ex "set debuginfod enabled off" \
    -ex "source tools/gdb/dyco.py" \
    "${commands[@]}" \
    "$prog" "$core" >"$dir/core.out" 2>&1 || true
fi

fail() { echo "dyco_test: $*" >&2; exit 1; }
check() {
  local out=$1
  cat "$out"
  grep -Eq '^ +1 +sleeping +sleep +sleeper$' "$out" || fail "$out: no sleeper"
  grep -Eq '^ +2 +waiting +read +reader$' "$out" || fail "$out: no reader"
  grep -Eq '^ +3 +waiting +queue +queued$' "$out" || fail "$out: no queued"
  grep -Eq '^ +4 +running +- +stopper$' "$out" || fail "$out: no stopper"
  # Each backtrace: the call it waits in, down to its function.
  grep -Eq '#[0-9]+ .*dyco_coroutine_sleep' "$out" || fail "$out: no sleep"
  grep -Eq '#[0-9]+ .*in sleeper' "$out" || fail "$out: no sleeper frame"
  grep -Eq '#[0-9]+ .*dyco_coroutine_waitRead' "$out" || fail "$out: no read"
  grep -Eq '#[0-9]+ .*in reader' "$out" || fail "$out: no reader frame"
  grep -Eq '#[0-9]+ .*dyco_waitq_wait' "$out" || fail "$out: no queue wait"
  grep -Eq '#[0-9]+ .*in queued' "$out" || fail "$out: no queued frame"
  grep -Eq '#[0-9]+ .*in stopper' "$out" || fail "$out: no stopper frame"
  # A suspended coroutine's backtrace starts at its switch, not at the
  # thread's own innermost frame.
  [ "$(grep -c '^#0 .*ctx_switch' "$out")" -eq 3 ] ||
    fail "$out: a suspended one's backtrace does not start at its switch"
}
check "$dir/live.out"
grep -Eq '^#0 .*dyco_gdb_stop_here' "$dir/live.out" || fail "no running frame"
grep -q 'stopped: done' "$dir/live.out" || fail "the program did not go on"
if [ "$core_ok" = 1 ]; then
  check "$dir/core.out"
fi
echo "dyco_test: ok"
