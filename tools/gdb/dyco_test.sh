#!/usr/bin/env bash
# dyco — test: tools/gdb/dyco.py in gdb -batch on a program stopped with
# three coroutines blocked in three places; the listing names their
# functions and states, and each one's backtrace reaches its function.
set -euo pipefail
prog=tools/gdb/stopped
out="${TEST_TMPDIR:-/tmp}/gdb.out"
gdb -nx -batch \
  -ex "set debuginfod enabled off" \
  -ex "source tools/gdb/dyco.py" \
  -ex "break dyco_gdb_stop_here" \
  -ex run \
  -ex "info dyco-coroutines" \
  -ex "dyco-coroutine bt 1" \
  -ex "dyco-coroutine bt 2" \
  -ex "dyco-coroutine bt 3" \
  -ex "dyco-coroutine bt 4" \
  -ex continue \
  "$prog" >"$out" 2>&1 || true
cat "$out"
fail() { echo "dyco_test: $*" >&2; exit 1; }
grep -Eq '^ +1 +sleeping +sleep +sleeper$' "$out" || fail "no sleeper listed"
grep -Eq '^ +2 +waiting +read +reader$' "$out" || fail "no reader listed"
grep -Eq '^ +3 +waiting +queue +queued$' "$out" || fail "no queued listed"
grep -Eq '^ +4 +running +- +stopper$' "$out" || fail "no stopper listed"
# Each backtrace: the call it waits in, down to its function.
grep -Eq '#[0-9]+ .*dyco_coroutine_sleep' "$out" || fail "no sleep frame"
grep -Eq '#[0-9]+ .*in sleeper' "$out" || fail "no sleeper frame"
grep -Eq '#[0-9]+ .*dyco_coroutine_waitRead' "$out" || fail "no read frame"
grep -Eq '#[0-9]+ .*in reader' "$out" || fail "no reader frame"
grep -Eq '#[0-9]+ .*dyco_waitq_wait' "$out" || fail "no queue frame"
grep -Eq '#[0-9]+ .*in queued' "$out" || fail "no queued frame"
grep -Eq '#0 .*dyco_gdb_stop_here' "$out" || fail "no running frame"
grep -q 'stopped: done' "$out" || fail "the program did not go on afterwards"
echo "dyco_test: ok"
