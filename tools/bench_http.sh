#!/usr/bin/env bash
# dyco — HTTP benchmark: examples/http_server (blocking code under dyco's
# hooks) against nginx (one worker, access_log off, the same answer), both
# on loopback, driven by wrk. Each server runs pinned to CPU 0 and wrk to
# CPU 1; rounds alternate the two servers in a random order, and the ratio
# is taken within each round.
#
#   tools/bench_http.sh [--rounds N] [--seconds S] [--connections "100 1000"]
#                       [--path /hello]
#
# Prints the CPU model, requests/s of each server per round, the median
# and quartiles over rounds, and the median ratio dyco/nginx per
# connection count (also appended to $DYCO_BENCH_TSV when it is set, for
# tools/bench_all.sh). Installs nginx and wrk (Debian) when they are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=7
seconds=5
conns="100 1000"
path=/hello
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) echo "bench_http: unknown argument $1" >&2; exit 2 ;;
  esac
done

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "bench_http: installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
    --no-install-recommends "${need[@]}" >/tmp/dyco-bench-http-apt.log 2>&1 ||
    { "${sudo[@]}" apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        --no-install-recommends "${need[@]}" >/tmp/dyco-bench-http-apt.log 2>&1; }
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

tools/bazel build -c opt //examples:http_server >/dev/null 2>&1 ||
  tools/bazel build -c opt //examples:http_server
server_bin=$(tools/bazel info -c opt bazel-bin 2>/dev/null)/examples/http_server

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/dyco_bench_http.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
nginx_port=$(free_port)
dyco_port=$(free_port)
mkdir -p "$work/www/static" "$work/logs"
head -c 4096 /dev/urandom >"$work/www/static/file.bin"

cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events {
  worker_connections 8192;
  use epoll;
}
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nodelay on;
  client_body_temp_path $work/logs;
  proxy_temp_path $work/logs;
  fastcgi_temp_path $work/logs;
  uwsgi_temp_path $work/logs;
  scgi_temp_path $work/logs;
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location = /hello {
      default_type text/plain;
      return 200 "Hello, World!";
    }
    location /static/ {
      root $work/www;
      default_type application/octet-stream;
    }
  }
}
EOF

taskset -c 0 "$nginx_bin" -p "$work" -c "$work/nginx.conf" &
pids+=($!)
taskset -c 0 "$server_bin" --port "$dyco_port" --root "$work/www/static" \
  >"$work/logs/dyco.log" 2>&1 &
pids+=($!)

wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "bench_http: nothing listens on port $1" >&2
  exit 1
}
wait_port "$nginx_port"
wait_port "$dyco_port"

# The two must give the same answer body.
a=$(curl -s "http://127.0.0.1:$nginx_port$path" 2>/dev/null || true)
b=$(curl -s "http://127.0.0.1:$dyco_port$path" 2>/dev/null || true)
if command -v curl >/dev/null 2>&1 && [ "$a" != "$b" ]; then
  echo "bench_http: the servers answer $path differently" >&2
  exit 1
fi

# requests/s of one wrk run against port $1 with $2 connections.
run_wrk() {
  local out
  out=$(taskset -c 1 wrk -t1 -c"$2" -d"${seconds}s" "http://127.0.0.1:$1$path" 2>&1)
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "bench_http: wrk saw errors against port $1:" >&2
    echo "$out" >&2
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "HTTP keep-alive GET $path on loopback: dyco's examples/http_server vs nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///')"
echo "machine: $cpu, $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "servers pinned to CPU 0, wrk (1 thread) to CPU 1; $rounds rounds x ${seconds}s, order random per round"

# Warm both up.
for p in "$nginx_port" "$dyco_port"; do
  seconds=1 run_wrk "$p" 100 >/dev/null
done

summary=()
for c in $conns; do
  : >"$work/res_$c"
  echo
  echo "connections: $c"
  printf '%-6s %14s %14s %8s\n' round "dyco req/s" "nginx req/s" ratio
  for r in $(seq "$rounds"); do
    if [ $((RANDOM % 2)) -eq 0 ]; then
      d=$(run_wrk "$dyco_port" "$c"); n=$(run_wrk "$nginx_port" "$c")
    else
      n=$(run_wrk "$nginx_port" "$c"); d=$(run_wrk "$dyco_port" "$c")
    fi
    ratio=$(awk -v d="$d" -v n="$n" 'BEGIN { printf "%.3f", (n > 0 ? d / n : 0) }')
    printf '%-6s %14s %14s %8s\n' "$r" "$d" "$n" "$ratio"
    echo "$d $n $ratio" >>"$work/res_$c"
  done
  # Median and quartiles of each column.
  line=$(python3 - "$work/res_$c" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
def q(col):
    v = sorted(r[col] for r in rows)
    if len(v) < 4:
        return statistics.median(v), v[0], v[-1]
    qs = statistics.quantiles(v, n=4)
    return statistics.median(v), qs[0], qs[2]
d, n, r = q(0), q(1), q(2)
print("%.0f %.0f %.0f %.0f %.0f %.0f %.3f %.3f %.3f" % (d + n + r))
PY
)
  read -r dm dlo dhi nm nlo nhi rm rlo rhi <<<"$line"
  printf 'median %14s %14s %8s   (quartiles: dyco %s-%s, nginx %s-%s, ratio %s-%s)\n' \
    "$dm" "$nm" "$rm" "$dlo" "$dhi" "$nlo" "$nhi" "$rlo" "$rhi"
  summary+=("$c connections: dyco/nginx = $rm (quartiles $rlo-$rhi); dyco $dm req/s, nginx $nm req/s")
  if [ -n "${DYCO_BENCH_TSV:-}" ]; then
    pass=$(awk -v r="$rm" 'BEGIN { print (r >= 1.2 ? "pass" : "FAIL") }')
    printf 'http\tGET %s keep-alive, %s connections: examples/http_server / nginx (req/s)\t%s\tx\tIQR %s-%s\t%s\tnginx, 1 worker\t>= 1.2\t%s\n' \
      "$path" "$c" "$rm" "$rlo" "$rhi" "$rm" "$pass" >>"$DYCO_BENCH_TSV"
  fi
done
echo
for s in "${summary[@]}"; do echo "$s"; done
