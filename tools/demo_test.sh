#!/usr/bin/env bash
# dyco — test: the demo, small, prints its table and writes an SVG chart.
set -euo pipefail
svg="$TEST_TMPDIR/demo.svg"
tools/demo --connections=20 --requests=2000 --runs=1 --sizes=64 --svg="$svg" |
  tee "$TEST_TMPDIR/out.txt"
grep -Eq "dyco, blocking code \+ hooks +[0-9]+ +[0-9.]+x" "$TEST_TMPDIR/out.txt"
grep -Eq "dyco, hooks \+ io_uring( \(epoll\))? +[0-9]+ +[0-9.]+x" "$TEST_TMPDIR/out.txt"
grep -Eq "hand-written epoll loop +[0-9]+ +1\.00x" "$TEST_TMPDIR/out.txt"
grep -Eq "thread per connection +[0-9]+" "$TEST_TMPDIR/out.txt"
grep -Eq "dyco_context_switch +[0-9.]+ ns" "$TEST_TMPDIR/out.txt"
grep -q "<svg" "$svg"
grep -q "Nanoseconds per context switch" "$svg"
[ "$(grep -c '<rect x=' "$svg")" -eq 7 ]
echo "demo_test: ok"
