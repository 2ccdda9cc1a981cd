#!/usr/bin/env bash
# dyco — test: install into a temporary prefix, build programs with a plain
# compiler through pkg-config exactly as README says (shared and static),
# and run them; check what the pkg-config files say.
set -euo pipefail
source tools/install_test/lib.sh
install_dyco

# Flags every user gets.
pkg-config --cflags dyco | grep -q -- '-fstack-clash-protection' ||
  fail "dyco.pc's Cflags lack -fstack-clash-protection"
pkg-config --libs dyco-hook | grep -q -- '--no-as-needed' ||
  fail "dyco-hook.pc does not keep the hooks under --as-needed"

# README: cc app.c $(pkg-config --cflags --libs dyco)
cc -o "$tmp/app" "$here/app.c" $(pkg-config --cflags --libs dyco)
"$tmp/app" | tee "$tmp/out.txt"
grep -Eq "^ran 3 coroutines on scheduler [0-9]+$" "$tmp/out.txt"
# README: cc app.c $(pkg-config --cflags --libs dyco-static)
cc -o "$tmp/app_static" "$here/app.c" $(pkg-config --cflags --libs dyco-static)
readelf -d "$tmp/app_static" | grep -q 'NEEDED.*libdyco' &&
  fail "the static build needs libdyco.so"
"$tmp/app_static" | grep -Eq "^ran 3 coroutines on scheduler [0-9]+$"
# The hooks, through their own pkg-config file.
cc -o "$tmp/app_hook" "$here/usleep_app.c" $(pkg-config --cflags --libs dyco-hook)
"$tmp/app_hook"
# No dyco symbol leaks outside its prefixes.
nm -D --defined-only "$prefix/lib/libdyco.so" | awk '{print $3}' |
  grep -v -E '^(dyco_|dyco__|_init$|_fini$|proc_coroutine)' | grep -E '^[a-z]' && {
    echo "unprefixed symbols exported" >&2; exit 1; } || true
# The preloadable hooks find libdyco.so beside them.
readelf -d "$prefix/lib/libdyco_hook.so" | grep -q 'RUNPATH.*\$ORIGIN' ||
  fail "libdyco_hook.so has no RUNPATH \$ORIGIN"
echo "install_test: ok"
