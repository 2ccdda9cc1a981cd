#!/usr/bin/env bash
# dyco — every benchmark, one table: builds the benchmarks with -c opt, runs
# them one after the other (context, sched, sync, asym, tls, the echo
# workload, the HTTP server against nginx), and writes one markdown table of
# every figure: its value, its spread, its ratio to its baseline, its target
# and whether it is met on this machine, under a line naming the machine.
#
#   tools/bench_all.sh [--quick] [--out FILE] [--skip "http echo ..."]
#
# --quick: fewer repetitions and rounds (a few minutes instead of about 20;
# for a look, not for figures to quote). --out: where the table goes
# (default: bench_all.md in the current directory); it is printed too.
# Quote the table with its machine line: a figure holds on the machine it
# was measured on.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
out="${BUILD_WORKING_DIRECTORY:-$PWD}/bench_all.md"
skip=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --out) out=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "bench_all: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

targets=(//context:context_benchmark //sched:sched_benchmark
  //sync:sync_benchmark //asym:asym_benchmark //tls:tls_benchmark
  //netio:echo_benchmark)
tools/bazel build -c opt "${targets[@]}" >/dev/null 2>&1 ||
  tools/bazel build -c opt "${targets[@]}"
bin=$(tools/bazel info -c opt bazel-bin 2>/dev/null)

tsv=$(mktemp /tmp/dyco_bench_all.XXXXXX.tsv)
logdir=$(mktemp -d /tmp/dyco_bench_all_logs.XXXXXX)
trap 'rm -f "$tsv"' EXIT
export DYCO_BENCH_TSV="$tsv"

gb_args=()
if [ "$quick" = 1 ]; then
  gb_args=(--benchmark_repetitions=3 --benchmark_min_time=0.05)
fi

skipped() { [[ " $skip " == *" $1 "* ]]; }

run() {
  local name=$1
  shift
  if skipped "$name"; then
    echo "bench_all: skipping $name" >&2
    return 0
  fi
  echo "bench_all: $name ..." >&2
  if ! "$@" >"$logdir/$name.log" 2>&1; then
    echo "bench_all: $name failed; its output is in $logdir/$name.log" >&2
    tail -20 "$logdir/$name.log" >&2
  fi
}

run context "$bin/context/context_benchmark" "${gb_args[@]}"
# The memory rows of the sched benchmark take a minute and gigabytes: not
# in --quick.
if [ "$quick" = 1 ]; then
  run sched "$bin/sched/sched_benchmark" "${gb_args[@]}" \
    --benchmark_filter='-BM_Memory|BM_PrivateStacksAlive'
else
  run sched "$bin/sched/sched_benchmark"
fi
run sync "$bin/sync/sync_benchmark" "${gb_args[@]}"
run asym "$bin/asym/asym_benchmark" "${gb_args[@]}"
run tls "$bin/tls/tls_benchmark" "${gb_args[@]}"
if [ "$quick" = 1 ]; then
  run echo "$bin/netio/echo_benchmark" --rounds=5 --batch=10000
  run http tools/bench_http.sh --rounds 3 --seconds 2
else
  run echo "$bin/netio/echo_benchmark"
  run http tools/bench_http.sh
fi

source tools/testing/cpu_name.sh
cpu=$(cpu_name)
{
  echo "# dyco figures"
  echo
  echo "Machine: $cpu, $(nproc) CPUs, Linux $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC');"
  echo "\`tools/bench_all.sh$([ "$quick" = 1 ] && echo " --quick")\`. Values are medians over repetitions"
  echo "(google benchmark, interleaved at random) or over interleaved rounds (echo, HTTP)."
  echo
  echo "| layer | figure | value | spread | ratio | to | target | result |"
  echo "|---|---|---|---|---|---|---|---|"
  awk -F'\t' '{
    ratio = ($6 + 0 > 0) ? sprintf("%.2f", $6) : "";
    printf "| %s | %s | %s %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, ratio, $7, $8, $9
  }' "$tsv"
  echo
  total=$(awk -F'\t' '$9 != "-"' "$tsv" | wc -l)
  failed=$(awk -F'\t' '$9 == "FAIL"' "$tsv" | wc -l)
  echo "Targets met: $((total - failed)) of $total."
} >"$out"
cat "$out"
echo >&2
echo "bench_all: the table is in $out; each benchmark's own output in $logdir" >&2
