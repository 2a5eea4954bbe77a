#!/usr/bin/env bash
# Peak memory (VmHWM) of k9-api serve sized as a Lambda function of 128, 512 and 1024 MB
# (AWS_LAMBDA_FUNCTION_MEMORY_SIZE: DuckDB gets half), on a database of 200,000 users and
# 400,000 reports (about 55 MB): after the cold start, after reads and writes under wrk, and
# after a compaction (POST /admin/persist: CHECKPOINT, snapshot, upload). Beside it, the
# same server with DuckDB's default limit (80% of this machine's memory).
#   bench/memory_sizing.sh [--sizes 128,512,1024] [--seconds 5]
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=128,512,1024 seconds=5
while [ $# -gt 0 ]; do
    case $1 in
        --sizes) sizes=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "memory_sizing: wrk is missing (apt-get install wrk)" >&2; exit 2; }
bin=${K9_BIN:-build/bin}
work=$(mktemp -d)
trap 'kill ${server:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export K9_STORE_URL=file://$work/store K9_JWT_SECRET=$(openssl rand -hex 32) K9_LOG_LEVEL=WARN
export K9_PERSIST_WRITES=0 K9_PERSIST_INTERVAL=0

# The seed database, made once and uploaded as the snapshot.
mkdir -p "$work/seed"
K9_DURABILITY=snapshot K9_DB_PATH=$work/seed/k9.db "$bin/k9db" sql 2>/dev/null \
    "INSERT INTO users SELECT 'user-' || i, 'Name ' || i, 'u' || i || '@example.com', NULL, '{\"units\":\"metric\"}', now(), now() FROM range(200000) t(i)" >/dev/null
K9_DURABILITY=snapshot K9_DB_PATH=$work/seed/k9.db "$bin/k9db" sql 2>/dev/null \
    "INSERT INTO reports SELECT 'r-' || i, 'title ' || i, 'author', DATE '2024-01-01', 'user-' || (i % 200000), '{\"k\":1}', '[\"p1\"]', now(), now() FROM range(400000) t(i)" >/dev/null
K9_DB_PATH=$work/upload.db "$bin/k9db" --upload --file "$work/seed/k9.db" --force >/dev/null
user_token=$("$bin/k9db" token --user user-42)
admin_token=$("$bin/k9db" token --user ops --admin)
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"title":"sizing","author":"wrk","date":"2024-01-01","reference":{"k":1}}'
wrk.headers["Content-Type"] = "application/json"
LUA

hwm() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
printf "%-22s %12s %14s %16s %14s\n" function "DuckDB limit" "cold start MB" "reads+writes MB" "compaction MB"
for size in ${sizes//,/ } default; do
    rm -rf "$work/local" && mkdir -p "$work/local"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if [ "$size" = default ]; then unset AWS_LAMBDA_FUNCTION_MEMORY_SIZE; else export AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$size; fi
    K9_DB_PATH=$work/local/k9.db "$bin/k9-api" serve --port "$port" >"$work/server.out" 2>"$work/server.err" &
    server=$!
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
    cold=$(hwm $server)
    limit=$(K9_DB_PATH=$work/local/x.db "$bin/k9db" --config | awk '/K9_DUCKDB_MEMORY_LIMIT/ {print $2, $3}')
    wrk -t 2 -c 8 -d "${seconds}s" -H "Authorization: Bearer $user_token" "http://127.0.0.1:$port/user/profile" >/dev/null
    wrk -t 2 -c 8 -d "${seconds}s" -H "Authorization: Bearer $user_token" -s "$work/post.lua" "http://127.0.0.1:$port/reports" >/dev/null
    used=$(hwm $server)
    code=$(curl -s -o "$work/persist.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $admin_token" "http://127.0.0.1:$port/admin/persist")
    [ "$code" = 200 ] || { echo "persist answered $code: $(cat "$work/persist.out")" >&2; exit 1; }
    compacted=$(hwm $server)
    kill $server; wait $server 2>/dev/null || true
    label=$([ "$size" = default ] && echo "not Lambda" || echo "$size MB")
    printf "%-22s %12s %14s %16s %14s\n" "$label" "$limit" "$cold" "$used" "$compacted"
done
echo "(VmHWM of k9-api serve: the peak resident memory so far, in MB)"
