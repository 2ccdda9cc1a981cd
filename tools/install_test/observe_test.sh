#!/usr/bin/env bash
# dyco — install test: seeing into coroutines from the outside. A program
# built with README's commands (the hooks, shared and static, -rdynamic for
# its names) runs one coroutine that waits inside a library knowing nothing
# of dyco and one that computes inside it: dyco_coroutine_backtrace and
# dyco_schedule_dump name the library's frame and the coroutine's function,
# and the stall watchdog reports the computing one with its function and
# the library's frame (observe_app.c).
set -euo pipefail
source tools/install_test/lib.sh
install_dyco

cc -shared -fPIC -o "$tmp/libobserve_lib.so" "$here/observe_lib.c"
lib="-I$here -L$tmp -Wl,-rpath,$tmp -lobserve_lib"
# README: cc app.c $(pkg-config --cflags --libs dyco-hook)
cc -rdynamic -o "$tmp/observe_shared" "$here/observe_app.c" $lib \
  $(pkg-config --cflags --libs dyco-hook)
# README: cc app.c $(pkg-config --cflags --libs dyco-hook-static)
cc -rdynamic -o "$tmp/observe_static" "$here/observe_app.c" $lib \
  $(pkg-config --cflags --libs dyco-hook-static)

for kind in shared static; do
  out=$("$tmp/observe_$kind" 2>&1) || { echo "$out" >&2; fail "observe_$kind failed"; }
  grep -q '^observe_app: passed' <<<"$out" || { echo "$out" >&2; fail "observe_$kind did not pass"; }
  echo "observe_$kind: passed"
done
