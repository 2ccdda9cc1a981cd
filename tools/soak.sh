#!/usr/bin/env bash
# dyco — soak: mixed load (echo under the hooks with connection churn, TLS,
# channels, timers, a coroutine pool, cross-thread spawns) for an hour, or
# ten minutes with --short; samples RSS, open fds, live coroutines, requests
# and p99 latency every 10 s into a CSV and an SVG chart, and exits non-zero
# when RSS or fds drift by more than 1 % after the warm-up (the first third
# of the run unless --warmup says otherwise) or any request fails. Not part
# of CI (docs/reliability.md has the figures of one hour, and why the
# warm-up is a third: the caches' high-water marks settle in steps for
# about twenty minutes; the run prints which mappings grew after it).
#
#   tools/soak.sh [--short] [--seconds N] [--warmup N] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=3600 warmup=1200 out=soak-out
while [ $# -gt 0 ]; do
  case "$1" in
    --short) seconds=600 warmup=200; shift ;;
    --seconds) seconds="$2"; warmup=$(( $2 / 3 )); shift 2 ;;
    --warmup) warmup_set="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: tools/soak.sh [--short] [--seconds N] [--warmup N] [--out DIR]" >&2; exit 2 ;;
  esac
done
warmup=${warmup_set:-$warmup}

tools/bazel build -c opt //tools/testing:soak
mkdir -p "$out"
if [ ! -f "$out/cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 30 -subj /CN=localhost -keyout "$out/key.pem" -out "$out/cert.pem" \
    >/dev/null 2>&1
fi
ulimit -n 65536 2>/dev/null || true
source tools/testing/cpu_name.sh
echo "soak: $seconds s (warm-up $warmup s) on $(cpu_name), $(date -u +%F)"
exec bazel-bin/tools/testing/soak --seconds "$seconds" --interval 10 \
  --warmup "$warmup" --csv "$out/soak.csv" --svg "$out/soak.svg" \
  --certs "$out"
