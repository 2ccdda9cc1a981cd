#!/usr/bin/env bash
# dyco — test: libdyco.so and libdyco_hook.so export only public names
# (nm -D): the dyco_ functions the public headers declare, and for the
# hooks the libc names they replace; no dyco__ name, no TLS variable, and
# libdyco.so none of the hooked names.
set -euo pipefail

fail() {
  echo "exports_test: $*" >&2
  exit 1
}

so=tools/libdyco.so
hook=tools/libdyco_hook.so
[ -f "$so" ] && [ -f "$hook" ] || fail "the libraries are not in the runfiles"

exported() { nm -D --defined-only "$1" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u; }
exported "$so" >so.names
exported "$hook" >hook.names
[ "$(wc -l <so.names)" -gt 100 ] || fail "libdyco.so exports $(wc -l <so.names) names: too few"

# The hooked names: what the hooks' archive defines outside dyco_.
nm -g --defined-only tools/libdyco_hook.a |
  awk '$2 == "T" && $3 !~ /^dyco_/ { print $3 }' | sort -u >hooked.names
[ "$(wc -l <hooked.names)" -gt 20 ] || fail "no hooked names found"

headers=$(sed 's|^\./||' tools/public_headers.txt)
for lib in so hook; do
  if grep '^dyco__' $lib.names; then fail "$lib exports dyco__ names (above)"; fi
  # Every dyco_ name is declared in a public header, as a whole word.
  grep '^dyco_' $lib.names >$lib.dyco
  missing=$(for n in $(cat $lib.dyco); do
    grep -q -w -- "$n" $headers || echo "$n"; done)
  [ -z "$missing" ] || fail "$lib exports names no public header declares: $missing"
done
if readelf --dyn-syms -W "$so" "$hook" | awk '$4 == "TLS" && $7 != "UND"' | grep .; then
  fail "a TLS variable is exported (above)"
fi
# libdyco.so: nothing but dyco_ (the hooks are not in it).
if grep -v '^dyco_' so.names; then fail "libdyco.so exports the names above"; fi
# libdyco_hook.so: libdyco.so's names, every hooked name and nothing else.
comm -23 so.names hook.names | grep . && fail "libdyco_hook.so lacks libdyco.so's names above"
comm -23 hooked.names hook.names | grep . && fail "libdyco_hook.so lacks the hooked names above"
extra=$(grep -v '^dyco_' hook.names | comm -23 - hooked.names)
[ -z "$extra" ] || fail "libdyco_hook.so exports names that are neither dyco_ nor hooked: $extra"
# One runtime: the hooks carry dyco and need no libdyco.so.
readelf -d "$hook" | grep -q 'NEEDED.*libdyco\.so' && fail "libdyco_hook.so needs libdyco.so"
echo "exports_test: ok: libdyco.so $(wc -l <so.names) names, libdyco_hook.so $(wc -l <hook.names)"
