#!/usr/bin/env bash
# dyco — install test: floating-point modes from the outside. A shared
# library (fp_lib.c) sets a rounding mode and blocks in read(2); a program
# calls it from two coroutines with different modes, linked each of
# README's three ways to link the hooks and with the user's
# AddressSanitizer. Each coroutine must find its own mode (x87 and MXCSR)
# after the read, the thread its own: the switch keeps them, with either of
# its MXCSR policies (compare first on Intel, load always on AMD).
set -euo pipefail
source tools/install_test/lib.sh
install_dyco

cc -shared -fPIC -o "$tmp/libfp.so" "$here/fp_lib.c"
fp="-I$here -L$tmp -Wl,-rpath,$tmp -lfp -lm"
cc -o "$tmp/fp_shared" "$here/fp_app.c" $fp $(pkg-config --cflags --libs dyco-hook)
cc -o "$tmp/fp_static" "$here/fp_app.c" $fp $(pkg-config --cflags --libs dyco-hook-static)
cc -o "$tmp/fp_plain" "$here/fp_app.c" $fp $(pkg-config --cflags --libs dyco)
cc -g -fsanitize=address -o "$tmp/fp_asan" "$here/fp_app.c" $fp $(pkg-config --cflags --libs dyco-hook)

run() { # NAME COMMAND...
  local name=$1
  shift
  timeout 20 "$@" >"$tmp/$name.out" 2>&1 || true
  cat "$tmp/$name.out"
  grep -q '^fp modes: ok (both blocked before the wake: yes)$' "$tmp/$name.out" ||
    fail "$name: a coroutine's floating-point modes were not its own"
}
run shared "$tmp/fp_shared"
run static "$tmp/fp_static"
run preload env LD_PRELOAD="$prefix/lib/libdyco_hook.so" "$tmp/fp_plain"
run asan "$tmp/fp_asan"
echo "fp_modes_test: ok"
