#!/usr/bin/env bash
# dyco — install test: the user's own tools on the installed library. A
# correct program (tools_ok.c) built with README's commands, shared and
# static, with -fsanitize=address, with -fsanitize=thread, and run under
# valgrind, must get no report; programs with a real bug in a coroutine
# (tools_bug.c) must get theirs, naming the function at fault.
set -euo pipefail
source tools/install_test/lib.sh
install_dyco

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export TSAN_OPTIONS=halt_on_error=0:exitcode=66
valgrind=(valgrind --quiet --error-exitcode=99 --leak-check=full
  --errors-for-leak-kinds=definite)

# expect_clean NAME COMMAND...: runs it; it must pass and report nothing.
expect_clean() {
  local name=$1
  shift
  local status=0
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$tmp/$name.err" >&2
    fail "$name: exit status $status for a correct program"
  fi
  if grep -Eq 'ERROR: AddressSanitizer|WARNING: ThreadSanitizer|==[0-9]+== [A-Z]' "$tmp/$name.err"; then
    cat "$tmp/$name.err" >&2
    fail "$name: a report for a correct program"
  fi
  grep -q '^tools_ok: passed' "$tmp/$name.out" || fail "$name: did not pass"
  echo "$name: clean"
}

# expect_report NAME PATTERN COMMAND...: it must fail with PATTERN on
# stderr and name the function at fault.
expect_report() {
  local name=$1 pattern=$2 where=$3
  shift 3
  if "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
    fail "$name: the bug went unreported (exit status 0)"
  fi
  grep -Eq "$pattern" "$tmp/$name.err" || {
    cat "$tmp/$name.err" >&2
    fail "$name: no report matching '$pattern'"
  }
  grep -q "$where" "$tmp/$name.err" || {
    cat "$tmp/$name.err" >&2
    fail "$name: the report does not name $where"
  }
  echo "$name: reported ($(grep -Eo "$pattern" "$tmp/$name.err" | head -1))"
}

for kind in dyco dyco-static; do
  # README: cc app.c $(pkg-config --cflags --libs dyco), plus the tool's flag.
  cc -g -fsanitize=address -o "$tmp/ok_asan" "$here/tools_ok.c" $(pkg-config --cflags --libs $kind)
  cc -g -fsanitize=address -o "$tmp/bug_asan" "$here/tools_bug.c" $(pkg-config --cflags --libs $kind)
  expect_clean "$kind asan" "$tmp/ok_asan"
  expect_report "$kind asan stack" 'AddressSanitizer: stack-buffer-overflow' overflow_stack "$tmp/bug_asan" stack
  expect_report "$kind asan heap" 'AddressSanitizer: heap-buffer-overflow' overflow_heap "$tmp/bug_asan" heap

  cc -g -fsanitize=thread -o "$tmp/ok_tsan" "$here/tools_ok.c" $(pkg-config --cflags --libs $kind)
  cc -g -fsanitize=thread -o "$tmp/bug_tsan" "$here/tools_bug.c" $(pkg-config --cflags --libs $kind)
  expect_clean "$kind tsan" "$tmp/ok_tsan"
  expect_report "$kind tsan race" 'ThreadSanitizer: data race' add_unlocked "$tmp/bug_tsan" race

  cc -g -o "$tmp/ok" "$here/tools_ok.c" $(pkg-config --cflags --libs $kind)
  cc -g -o "$tmp/bug" "$here/tools_bug.c" $(pkg-config --cflags --libs $kind)
  expect_clean "$kind valgrind" "${valgrind[@]}" "$tmp/ok"
  expect_report "$kind valgrind heap" 'Invalid write of size 1' overflow_heap "${valgrind[@]}" "$tmp/bug" heap
  expect_report "$kind valgrind uninit" 'depends on uninitialised value' branch_on_uninit "${valgrind[@]}" "$tmp/bug" uninit
done
echo "tools_test: ok"
