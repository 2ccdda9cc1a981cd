#!/usr/bin/env bash
# dyco — installs libdyco.so, libdyco.a, the public headers and dyco.pc for
# builds without Bazel: tools/bazel run //tools:install -- --prefix DIR
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

cat >"$prefix/lib/pkgconfig/dyco.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include/dyco

Name: dyco
Description: stackful coroutines for Linux network servers
Version: 0.1.0
Cflags: -I\${includedir} -DDYCO_HAVE_TLS=1
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -ldyco -pthread
Libs.private: -ldl -lssl -lcrypto
PC
cat >"$prefix/lib/pkgconfig/dyco-hook.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib

Name: dyco-hook
Description: dyco's libc hooks: plain blocking calls yield inside coroutines
Version: 0.1.0
Requires: dyco
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -ldyco_hook
PC
echo "dyco: installed libdyco and libdyco_hook (.so, .a), $count headers, dyco.pc and dyco-hook.pc under $prefix"
echo "dyco: build with: cc app.c \$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs dyco)"
