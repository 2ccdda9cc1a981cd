#!/usr/bin/env bash
# dyco — check: the layer diagram of docs/design.md is the dependencies
# between dyco's libraries in BUILD (bazel query), README's drawing agrees
# with it, and no package reaches into another's internal/ headers. Run from
# .ci/run (a Bazel test cannot run bazel query).
#   tools/check_layers.sh
set -euo pipefail
cd "$(dirname "$0")/.."

layers=(base context sched netio netio:hook sync tls asym)
label() { case "$1" in *:*) echo "//$1" ;; *) echo "//$1:$1" ;; esac; }
name() { local l=${1#//}; [ "${l%%:*}" = "${l#*:}" ] && echo "${l%%:*}" || echo "$l"; }

fail=0
problem() {
  echo "check_layers: $*" >&2
  fail=1
}

# Edges "dependent dependency" of a drawing: the lines of the first fenced
# block whose opening line matches $2, in file $1. In a line, two names with
# an arrow token (dashes ending in '>') between them: the right one is built
# on the left one.
drawn_edges() {
  awk -v open="$2" '
    !inside && $0 ~ open { inside = 1; next }
    inside && /^```/ { exit }
    inside {
      prev = ""; arrow = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^-+>$/) { arrow = 1; continue }
        if ($i ~ /^[a-z:]+$/) {
          if (prev != "" && arrow) print $i, prev
          prev = $i; arrow = 0
        } else { prev = ""; arrow = 0 }
      }
    }' "$1" | sort -u
}

# The edges BUILD has: direct deps of each layer's library on the others'.
set_expr=""
for l in "${layers[@]}"; do set_expr="$set_expr $(label "$l")"; done
real=$(for l in "${layers[@]}"; do
  tools/bazel query --noshow_progress "deps($(label "$l"), 1) intersect set($set_expr)" 2>/dev/null |
    while read -r dep; do
      [ "$dep" = "$(label "$l")" ] && continue
      echo "$l $(name "$dep")"
    done
done | sort -u)
[ -n "$real" ] || { echo "check_layers: bazel query gave no edges" >&2; exit 1; }

design=$(drawn_edges docs/design.md '^```layers')
if [ "$design" != "$real" ]; then
  problem "docs/design.md's diagram differs from BUILD (< diagram, > BUILD):"
  diff <(echo "$design") <(echo "$real") >&2 || true
fi

# README draws the layers without base (which is under all of them).
readme=$(drawn_edges README.md '^```layers')
real_nobase=$(echo "$real" | awk '$2 != "base"')
if [ "$readme" != "$real_nobase" ]; then
  problem "README's drawing differs from BUILD without base (< README, > BUILD):"
  diff <(echo "$readme") <(echo "$real_nobase") >&2 || true
fi

# No package includes another's internal/ headers.
while IFS= read -r hit; do
  file=${hit%%:*}
  inc=$(echo "$hit" | sed -n 's/.*#include "\([^"]*\)".*/\1/p')
  if [ "${file%%/*}" != "${inc%%/*}" ]; then
    problem "$file includes $inc"
  fi
done < <(git grep -n -E '#include "[a-z_]+/internal/' -- '*.c' '*.h' '*.cc' '*.S' || true)

# ... nor depends on another's _internal target.
while IFS= read -r hit; do
  file=${hit%%:*}
  pkg=$(echo "$hit" | sed -n 's|.*"//\([a-z_]*\):[a-z_]*_internal".*|\1|p')
  if [ -n "$pkg" ] && [ "$(dirname "$file")" != "$pkg" ]; then
    problem "$file depends on //$pkg's internal target"
  fi
done < <(git grep -n -E '"//[a-z_]+:[a-z_]+_internal"' -- '*BUILD' || true)

if [ "$fail" -ne 0 ]; then
  exit 1
fi
echo "check_layers: ok ($(echo "$real" | wc -l) dependencies between the layers, as drawn)"
