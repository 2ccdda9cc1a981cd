#!/usr/bin/env bash
# dyco — source format: checks (or with --fix, rewrites) every C and C++ file
# git tracks against .clang-format, with Debian's clang-format-19 (the
# project's .clang-format uses InsertBraces, which needs clang-format 15 or
# newer; Debian 12's default clang-format is 14). Installs it when missing.
#
#   tools/format.sh          list the files that differ, exit 1 if any
#   tools/format.sh --fix    rewrite them
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  *) echo "usage: tools/format.sh [--fix]" >&2; exit 2 ;;
esac

cf=clang-format-19
if ! command -v "$cf" >/dev/null 2>&1; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "format: installing $cf" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
    --no-install-recommends "$cf" >/tmp/dyco-format-apt.log 2>&1 ||
    { "${sudo[@]}" apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        --no-install-recommends "$cf" >/tmp/dyco-format-apt.log 2>&1; } ||
    { echo "format: could not install $cf (see /tmp/dyco-format-apt.log)" >&2; exit 1; }
fi

mapfile -t files < <(git ls-files '*.c' '*.h' '*.cc')
if [ "$fix" = 1 ]; then
  "$cf" -i "${files[@]}"
  echo "format: ${#files[@]} files formatted with $("$cf" --version | sed 's/.*version //')"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$cf" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format: these files differ from .clang-format (tools/format.sh --fix):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
