#!/usr/bin/env bash
# k9-api serve under wrk: throughput and p50/p99 latency of GET /user/profile,
# GET /reports and POST /reports, each beside the same server's GET /health (no auth,
# no database read: the floor of the HTTP path) as a ratio.
#   bench/api_bench.sh [--seconds 10] [--connections 16] [--threads 2]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 connections=16 threads=2
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "api_bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }
bin=${K9_BIN:-build/bin}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

export K9_DB_PATH=$work/k9.db K9_STORE_URL=file://$work/store K9_JWT_SECRET=$(openssl rand -hex 32)
export K9_PERSIST_WRITES=0 K9_PERSIST_INTERVAL=0 K9_LOG_LEVEL=WARN
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/k9-api" serve --port "$port" --threads 8 >"$work/server.out" 2>"$work/server.err" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
token=$("$bin/k9db" token --user bench)
auth="Authorization: Bearer $token"
base=http://127.0.0.1:$port
curl -sf -X PATCH -H "$auth" -d '{"name":"Bench"}' "$base/user/profile" >/dev/null
for i in $(seq 50); do
    curl -sf -X POST -H "$auth" -d '{"title":"r'"$i"'","author":"a","date":"2024-01-01","reference":{"i":'"$i"'}}' "$base/reports" >/dev/null
done

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"title":"bench","author":"wrk","date":"2024-01-01","reference":{"k":1},"favorites":["p1","p2"]}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
    io.write(string.format("RESULT %.1f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect
        + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
run() { # run NAME PATH [lua] -> "rps p50ms p99ms errors"
    local script=$work/report.lua
    if [ -n "${3:-}" ]; then cat "$3" "$work/report.lua" >"$work/combined.lua"; script=$work/combined.lua; fi
    wrk -t "$threads" -c "$connections" -d "${seconds}s" -H "$auth" -s "$script" "$base$2" | awk '/^RESULT/ {print $2, $3, $4, $5}'
}

printf "%-20s %10s %9s %9s %7s %10s\n" route "req/s" "p50 ms" "p99 ms" errors "vs health"
read -r h_rps h_p50 h_p99 h_err < <(run health /health)
printf "%-20s %10.0f %9.2f %9.2f %7d %10s\n" "GET /health" "$h_rps" "$h_p50" "$h_p99" "$h_err" "1.00x"
for spec in "GET /user/profile|/user/profile|" "GET /reports|/reports?limit=20|" "POST /reports|/reports|$work/post.lua"; do
    IFS='|' read -r name path lua <<<"$spec"
    read -r rps p50 p99 err < <(run "$name" "$path" "$lua")
    printf "%-20s %10.0f %9.2f %9.2f %7d %9.2fx\n" "$name" "$rps" "$p50" "$p99" "$err" "$(echo "$rps / $h_rps" | bc -l)"
done
echo "(wrk -t $threads -c $connections -d ${seconds}s on loopback; ratio = route req/s / health req/s)"
