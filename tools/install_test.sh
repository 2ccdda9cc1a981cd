#!/usr/bin/env bash
# dyco — test: install into a temporary prefix, build a program with a plain
# compiler through pkg-config, against the shared and the static library,
# and run both.
set -euo pipefail
prefix="$TEST_TMPDIR/prefix"
tools/install --prefix "$prefix"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --exists dyco
cc -o "$TEST_TMPDIR/app" tools/install_test_app.c $(pkg-config --cflags --libs dyco)
"$TEST_TMPDIR/app" | tee "$TEST_TMPDIR/out.txt"
grep -Eq "^ran 3 coroutines on scheduler [0-9]+$" "$TEST_TMPDIR/out.txt"
# The same program, static.
cc -o "$TEST_TMPDIR/app_static" tools/install_test_app.c \
  $(pkg-config --cflags dyco) "$prefix/lib/libdyco.a" $(pkg-config --static --libs-only-l dyco | sed 's/-ldyco//')
"$TEST_TMPDIR/app_static" | grep -Eq "^ran 3 coroutines on scheduler [0-9]+$"
# The hooks, through their own pkg-config file.
cc -o "$TEST_TMPDIR/app_hook" tools/install_test_hook.c $(pkg-config --cflags --libs dyco-hook)
"$TEST_TMPDIR/app_hook"
# No dyco symbol leaks outside its prefixes.
nm -D --defined-only "$prefix/lib/libdyco.so" | awk '{print $3}' |
  grep -v -E '^(dyco_|dyco__|_init$|_fini$|proc_coroutine)' | grep -E '^[a-z]' && {
    echo "unprefixed symbols exported" >&2; exit 1; } || true
echo "install_test: ok"
