#!/usr/bin/env bash
# dyco — runs an example program with a time limit and checks its output:
# run_example.sh <timeout-seconds> <binary> [--arg A]... -- <regex>...
# Every regex must match some line of what the program printed (stdout and
# stderr together), and the program must exit 0.
set -u
limit=$1
bin=$2
shift 2
args=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  [ "$1" = "--arg" ] && { args+=("$2"); shift 2; continue; }
  shift
done
[ $# -gt 0 ] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout "$limit" "$bin" "${args[@]}" >"$out" 2>&1
status=$?
cat "$out"
if [ $status -ne 0 ]; then
  echo "run_example: $bin exited with status $status" >&2
  exit 1
fi
for re in "$@"; do
  if ! grep -Eq -- "$re" "$out"; then
    echo "run_example: no line matches: $re" >&2
    exit 1
  fi
done
echo "run_example: ok"
