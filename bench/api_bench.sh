#!/usr/bin/env bash
# k9-api serve under wrk: throughput and p50/p99 latency of GET /user/profile,
# GET /reports and POST /reports, each beside the same server's GET /health (no auth,
# no database read: the floor of the HTTP path) as a ratio.
# Then the slow-client case: N clients (--slow 24) that trickle their headers, one line a
# second, reconnecting when the server cuts them off; with them connected, the time
# GET /health takes and GET /user/profile's requests/s beside the run without them.
#   bench/api_bench.sh [--seconds 10] [--connections 16] [--threads 2] [--slow 24]
#   K9_BIN=dir (default build/bin) K9_SERVE_ARGS="--threads 16" (extra k9-api serve flags)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10 connections=16 threads=2 slow=24
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --slow) slow=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "api_bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }
bin=${K9_BIN:-build/bin}
work=$(mktemp -d)
trap 'kill $server ${slowpid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

export K9_DB_PATH=$work/k9.db K9_STORE_URL=file://$work/store K9_JWT_SECRET=$(openssl rand -hex 32)
export K9_PERSIST_WRITES=0 K9_PERSIST_INTERVAL=0 K9_LOG_LEVEL=WARN
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086
"$bin/k9-api" serve --port "$port" ${K9_SERVE_ARGS:-} >"$work/server.out" 2>"$work/server.err" &
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
    [ "$name" = "GET /user/profile" ] && profile_rps=$rps
done

# DuckDB's floor in the same run: the profile query, prepared, in a loop through the C API,
# on one core and on all of them (DuckDB with K9_DUCKDB_THREADS threads, as the server).
if [ -x "$bin/duckdb_floor" ]; then
    cores=$(nproc)
    floor=$("$bin/duckdb_floor" --seconds 3 --threads "1,$cores" --duckdb-threads "${K9_DUCKDB_THREADS:-1}")
    floor1=$(awk '/threads=1 / {split($3, a, "="); print a[2]}' <<<"$floor")
    floorn=$(awk -v n="$cores" '$2 == "threads="n {split($3, a, "="); print a[2]}' <<<"$floor")
    printf "DuckDB floor (one prepared point query in a loop): %.0f q/s on 1 core, %.0f on %d;" \
        "$floor1" "$floorn" "$cores"
    printf " GET /user/profile = %.2fx of one core's, %.2fx of all %d\n" \
        "$(echo "$profile_rps / $floor1" | bc -l)" "$(echo "$profile_rps / $floorn" | bc -l)" "$cores"
fi

if [ "$slow" -gt 0 ]; then
    # Slow clients: each sends a request line, then one header line a second, forever;
    # cut off, it connects again, so that $slow stay connected.
    python3 - "$port" "$slow" >"$work/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /user/profile HTTP/1.1\r\nHost: slow\r\n")
    return s
conns = [connect() for _ in range(n)]
print("connected", n, flush=True)
for _ in range(600):
    time.sleep(1)
    for i, s in enumerate(conns):
        try:
            s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            s.close()
            conns[i] = connect()
PY
    slowpid=$!
    for _ in $(seq 50); do grep -q connected "$work/slow.out" 2>/dev/null && break; sleep 0.1; done
    sleep 1
    worst=0
    for _ in 1 2 3 4 5; do
        t=$(curl -s -o /dev/null -m 30 -w '%{time_total}' "$base/health")
        worst=$(echo "if ($t > $worst) $t else $worst" | bc -l)
        sleep 0.2
    done
    read -r rps p50 p99 err < <(run "GET /user/profile" /user/profile)
    kill "$slowpid" 2>/dev/null || true
    printf "%-20s %10.0f %9.2f %9.2f %7d %9.2fx  (with %d slow clients; x = vs the run without)\n" \
        "GET /user/profile" "$rps" "$p50" "$p99" "$err" "$(echo "$rps / $profile_rps" | bc -l)" "$slow"
    printf "GET /health with %d slow clients connected: slowest of 5 took %.1f ms\n" "$slow" \
        "$(echo "$worst * 1000" | bc -l)"
fi
echo "(wrk -t $threads -c $connections -d ${seconds}s on loopback; ratio = route req/s / health req/s)"
