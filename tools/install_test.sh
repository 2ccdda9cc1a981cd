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
# The seed's header with nothing but the include path (no pkg-config
# flags): it still declares dyco_SSL_* and builds without a warning.
printf '#include "dyco/dyco_coroutine.h"\nint f(SSL *s);\nint f(SSL *s) { return dyco_SSL_connect(s); }\n' >"$tmp/tls_decl.c"
cc -Wall -Wextra -Werror -c -o "$tmp/tls_decl.o" -I"$prefix/include/dyco" "$tmp/tls_decl.c"
# ... and under -std=c11 too (it defines _GNU_SOURCE before any system
# header, as the seed's did), and from C++.
cc -std=c11 -Wall -Werror -c -o "$tmp/app_c11.o" -I"$prefix/include/dyco" -x c - <<'C'
#include "dyco/dyco_coroutine.h"
cpu_set_t set; /* a GNU name */
int main(void) { return dyco_coroutine_create(NULL, NULL) < 0 ? 0 : 1; }
C
c++ -Wall -Werror -c -o "$tmp/app_cxx.o" $(pkg-config --cflags dyco) -x c++ - <<'CXX'
#include "dyco/dyco_coroutine.h"
int main() { void *u; return dyco_schedule_getUdata(&u); }
CXX
# Only public names are exported (//tools:exports_test says more).
nm -D --defined-only "$prefix/lib/libdyco.so" | awk '{print $3}' |
  grep -v -E '^dyco_[a-zA-Z]' && {
    echo "non-public symbols exported" >&2; exit 1; } || true
# The hooks carry dyco: a program linked with them loads one runtime.
readelf -d "$tmp/app_hook" | grep -q 'NEEDED.*libdyco\.so' &&
  fail "a program linked with dyco-hook also needs libdyco.so"
echo "install_test: ok"
