#!/usr/bin/env bash
# dyco — HTTP benchmark: examples/http_server (blocking code under dyco's
# hooks) against nginx (one worker, access_log off, the same answer), both
# on loopback, driven by wrk. Each server runs pinned to CPU 0 and wrk to
# CPU 1; rounds alternate the two servers in a random order, and the ratio
# is taken within each round.
#
#   tools/bench_http.sh [--rounds N] [--seconds S] [--connections "100 1000"]
#                       [--path /hello] [--pipeline N]
#
# Prints the CPU model, requests/s and server CPU time per request of each
# server per round, the medians and quartiles over rounds, and the median
# ratios per connection count (also appended to $DYCO_BENCH_TSV when it is set, for
# tools/bench_all.sh). Installs nginx and wrk (Debian) when they are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=7
seconds=5
conns="100 1000"
path=/hello
pipeline=1
while [ $# -gt 0 ]; do
  case "$1" in
    --pipeline) pipeline=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --path) path=$2; shift 2 ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
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
nginx_master=$!
pids+=($nginx_master)
taskset -c 0 "$server_bin" --port "$dyco_port" --root "$work/www/static" \
  >"$work/logs/dyco.log" 2>&1 &
dyco_pid=$!
pids+=($dyco_pid)

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
nginx_pid=$(pgrep -P "$nginx_master" | head -1) # its one worker

# The two must give the same answer body.
a=$(curl -s "http://127.0.0.1:$nginx_port$path" 2>/dev/null || true)
b=$(curl -s "http://127.0.0.1:$dyco_port$path" 2>/dev/null || true)
if command -v curl >/dev/null 2>&1 && [ "$a" != "$b" ]; then
  echo "bench_http: the servers answer $path differently" >&2
  exit 1
fi

# With --pipeline N, each connection sends N requests at once and reads the
# N answers (as TechEmpower's plaintext test does with 16).
script=()
if [ "$pipeline" -gt 1 ]; then
  cat >"$work/pipeline.lua" <<LUA
init = function(args)
  local r = {}
  for i = 1, $pipeline do r[i] = wrk.format(nil, "$path") end
  req = table.concat(r)
end
request = function() return req end
LUA
  script=(-s "$work/pipeline.lua")
fi

# CPU ticks (user + system) of process $1 so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One wrk run against port $1 with $2 connections, the server being process
# $3: prints requests/s and the server's CPU microseconds per request.
run_wrk() {
  local out t0 t1
  t0=$(ticks "$3")
  out=$(taskset -c 1 wrk -t1 -c"$2" -d"${seconds}s" "${script[@]}" \
    "http://127.0.0.1:$1$path" 2>&1)
  t1=$(ticks "$3")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "bench_http: wrk saw errors against port $1:" >&2
    echo "$out" >&2
  fi
  awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %.3f\n", rps, (n > 0 ? t * 1e6 / hz / n : 0) }' <<<"$out"
}

source tools/testing/cpu_name.sh
cpu=$(cpu_name)
mode="keep-alive GET $path"
[ "$pipeline" -gt 1 ] && mode="$mode, $pipeline requests pipelined"
echo "HTTP $mode on loopback: dyco's examples/http_server vs nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///')"
echo "machine: $cpu, $(nproc) CPUs; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "servers pinned to CPU 0, wrk (1 thread) to CPU 1; $rounds rounds x ${seconds}s, order random per round."
echo "req/s is what wrk saw; us/req is the server's CPU time (user + system) per request,"
echo "which tells the servers apart when wrk's own core is the limit."

# Warm both up.
seconds=1 run_wrk "$nginx_port" 100 "$nginx_pid" >/dev/null
seconds=1 run_wrk "$dyco_port" 100 "$dyco_pid" >/dev/null

summary=()
for c in $conns; do
  : >"$work/res_$c"
  echo
  echo "connections: $c"
  printf '%-6s %12s %8s %12s %8s %8s %8s\n' round "dyco req/s" "us/req" \
    "nginx req/s" "us/req" "req/s" "CPU/req"
  for r in $(seq "$rounds"); do
    if [ $((RANDOM % 2)) -eq 0 ]; then
      d=$(run_wrk "$dyco_port" "$c" "$dyco_pid")
      n=$(run_wrk "$nginx_port" "$c" "$nginx_pid")
    else
      n=$(run_wrk "$nginx_port" "$c" "$nginx_pid")
      d=$(run_wrk "$dyco_port" "$c" "$dyco_pid")
    fi
    read -r drps dcpu <<<"$d"
    read -r nrps ncpu <<<"$n"
    read -r rr cr < <(awk -v d="$drps" -v n="$nrps" -v dc="$dcpu" -v nc="$ncpu" \
      'BEGIN { printf "%.3f %.3f\n", (n > 0 ? d / n : 0), (dc > 0 ? nc / dc : 0) }')
    printf '%-6s %12.0f %8.2f %12.0f %8.2f %8s %8s\n' "$r" "$drps" "$dcpu" \
      "$nrps" "$ncpu" "$rr" "$cr"
    echo "$drps $dcpu $nrps $ncpu $rr $cr" >>"$work/res_$c"
  done
  # Median and quartiles of each column.
  line=$(python3 - "$work/res_$c" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
out = []
for col in range(6):
    v = sorted(r[col] for r in rows)
    if len(v) < 4:
        lo, hi = v[0], v[-1]
    else:
        lo, _, hi = statistics.quantiles(v, n=4)
    out += [statistics.median(v), lo, hi]
print(" ".join("%.3f" % x for x in out))
PY
)
  read -r dm _ _ dcm _ _ nm _ _ ncm _ _ rm rlo rhi cm clo chi <<<"$line"
  printf 'median %12.0f %8.2f %12.0f %8.2f %8.3f %8.3f\n' "$dm" "$dcm" "$nm" \
    "$ncm" "$rm" "$cm"
  printf '       quartiles: req/s ratio %.3f-%.3f; CPU/req ratio (nginx/dyco) %.3f-%.3f\n' \
    "$rlo" "$rhi" "$clo" "$chi"
  summary+=("$c connections: req/s dyco/nginx = $rm (quartiles $rlo-$rhi); server CPU per request nginx/dyco = $cm (quartiles $clo-$chi); dyco $(printf %.0f "$dm") req/s at $dcm us, nginx $(printf %.0f "$nm") req/s at $ncm us")
  if [ -n "${DYCO_BENCH_TSV:-}" ]; then
    tag="GET $path keep-alive"
    [ "$pipeline" -gt 1 ] && tag="$tag, pipelined x$pipeline"
    tag="$tag, $c connections"
    pass=$(awk -v r="$rm" 'BEGIN { print (r >= 1.2 ? "pass" : "FAIL") }')
    printf 'http\t%s: examples/http_server / nginx (req/s)\t%s\tx\tIQR %s-%s\t%s\tnginx, 1 worker\t>= 1.2\t%s\n' \
      "$tag" "$rm" "$rlo" "$rhi" "$rm" "$pass" >>"$DYCO_BENCH_TSV"
    printf 'http\t%s: server CPU per request, nginx / examples/http_server\t%s\tx\tIQR %s-%s\t%s\tnginx, 1 worker\t\t-\n' \
      "$tag" "$cm" "$clo" "$chi" "$cm" >>"$DYCO_BENCH_TSV"
  fi
done
echo
for s in "${summary[@]}"; do echo "$s"; done
