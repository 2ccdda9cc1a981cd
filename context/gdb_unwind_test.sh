#!/usr/bin/env bash
# dyco — context layer test: gdb steps through every instruction of both
# assembly switches and finds a clean backtrace at each, and in a context
# one that ends at the trampoline (context/internal/gdb_unwind.py).
set -euo pipefail
probe=$1
script=$2
if ! command -v gdb >/dev/null; then
  echo "gdb_unwind_test: gdb is not installed (tools/bazel installs it)" >&2
  exit 1
fi
DYCO_SYMBOLS=$(nm -S --defined-only "$probe" | awk '
  $4 ~ /^(main|Body|dyco_test_in_context|dyco__context_switch_asm|dyco__context_switch_ret_asm|dyco__context_trampoline)$/ {
    print $4, $1, $2 }')
export DYCO_SYMBOLS
out=$(gdb -nx -batch -x "$script" "$probe" 2>&1) || true
echo "$out"
if grep -q "ptrace: Operation not permitted" <<<"$out"; then
  echo "gdb_unwind_test: gdb may not trace here (a container without" \
    "CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=3)" >&2
fi
grep -q "^unwind test: .*, passed$" <<<"$out"
