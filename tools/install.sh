#!/usr/bin/env bash
# dyco — installs libdyco and libdyco_hook (.so, .a), the public headers and
# their pkg-config files for builds without Bazel (README, "Without Bazel"):
# tools/bazel run //tools:install -- --prefix DIR
set -euo pipefail

prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help)
      echo "usage: tools/bazel run //tools:install -- --prefix DIR"; exit 0 ;;
    *) echo "install: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$prefix" ]; then
  echo "install: --prefix DIR is required" >&2
  exit 2
fi
# `bazel run` starts us in our runfiles; a relative prefix means the
# caller's directory.
case "$prefix" in
  /*) ;;
  *) prefix="${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
runfiles="${RUNFILES_DIR:-$0.runfiles}/dyco"
[ -d "$runfiles" ] || runfiles="$PWD"

mkdir -p "$prefix/lib/pkgconfig" "$prefix/include/dyco"
install -m 0644 "$runfiles/tools/libdyco.a" "$prefix/lib/libdyco.a"
install -m 0755 "$runfiles/tools/libdyco.so" "$prefix/lib/libdyco.so"
install -m 0644 "$runfiles/tools/libdyco_hook.a" "$prefix/lib/libdyco_hook.a"
install -m 0755 "$runfiles/tools/libdyco_hook.so" "$prefix/lib/libdyco_hook.so"
# Headers keep their paths from the repository root: "sched/coroutine.h".
count=0
while IFS= read -r h; do
  mkdir -p "$prefix/include/dyco/$(dirname "$h")"
  install -m 0644 "$runfiles/$h" "$prefix/include/dyco/$h"
  count=$((count + 1))
done < "$runfiles/tools/public_headers.txt"

# The libc names libdyco_hook defines: a program that links the hooks'
# archive exports them, so that libraries it loads later reach them too.
hooked=$(nm -g --defined-only "$prefix/lib/libdyco_hook.a" |
  awk '$2 == "T" && $3 !~ /^dyco_/ { print $3 }' | sort -u)
exports=""
for name in $hooked; do
  exports="$exports -Wl,--export-dynamic-symbol=$name"
done

# -fstack-clash-protection: a frame larger than the guard page below a
# coroutine's stack probes its way down and faults in the guard instead of
# jumping over it into the next stack.
cflags="-I\${includedir} -DDYCO_HAVE_TLS=1 -fstack-clash-protection"

cat >"$prefix/lib/pkgconfig/dyco.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include/dyco

Name: dyco
Description: stackful coroutines for Linux network servers
Version: 0.1.0
Cflags: $cflags
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -ldyco -pthread -lssl -lcrypto
Libs.private: -ldl
PC
# libdyco_hook.so is the whole of dyco with the hooks: a program links it in
# place of libdyco.so (one runtime). The hooks replace libc functions nobody
# calls by dyco's name: with --as-needed (Debian's default) the library would
# be dropped when the program's own code calls none of them and no dyco_
# function (a blocking client library does). --no-as-needed keeps it;
# --whole-archive takes all of libdyco_hook.a when a -static link picks the
# archive.
cat >"$prefix/lib/pkgconfig/dyco-hook.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include/dyco

Name: dyco-hook
Description: dyco with its libc hooks: plain blocking calls yield inside coroutines
Version: 0.1.0
Cflags: $cflags
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -Wl,--push-state,--no-as-needed,--whole-archive -ldyco_hook -Wl,--pop-state -pthread -lssl -lcrypto
Libs.private: -ldl
PC
# dyco's archives inside the program, every other library shared.
cat >"$prefix/lib/pkgconfig/dyco-static.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include/dyco

Name: dyco-static
Description: stackful coroutines for Linux network servers, linked in
Version: 0.1.0
Cflags: $cflags
Libs: \${libdir}/libdyco.a -pthread -ldl -lssl -lcrypto -luring
PC
cat >"$prefix/lib/pkgconfig/dyco-hook-static.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib

Name: dyco-hook-static
Description: dyco's libc hooks, linked in whole
Version: 0.1.0
Requires: dyco-static
Libs: -Wl,--whole-archive \${libdir}/libdyco_hook.a -Wl,--no-whole-archive$exports
PC
echo "dyco: installed libdyco and libdyco_hook (.so, .a), $count headers and dyco.pc, dyco-hook.pc, dyco-static.pc, dyco-hook-static.pc under $prefix"
echo "dyco: build with: cc app.c \$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs dyco)"
