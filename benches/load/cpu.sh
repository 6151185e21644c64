#!/usr/bin/env bash
# Throughput, p99 and CPU per request of the server and of PostgreSQL's backends on one page,
# from the project root: bash benches/load/cpu.sh [PATH] [SECONDS]
# (default: the member page of the 10,000-member organization, 10 s of wrk at 32 connections),
# signed in as AS (default admin@example.com; multi@example.com is in 400 organizations).
set -u
. "$(dirname "$0")/common.sh"
PAGE=${1:-/orgs/acme-corp/access/users}
SECONDS_RUN=${2:-10}
start_server
if [ "${PAGE#/api/}" != "$PAGE" ]; then  # the API: a personal key of AS
  KEY=gatehouse_pk_bench$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  psql -q "$DATABASE_URL" -c "INSERT INTO personal_api_keys (user_id, name, prefix, key_hash)
    SELECT id, 'cpu.sh', left('$KEY', 16), sha256('$KEY'::bytea) FROM users
    WHERE email = '${AS:-admin@example.com}'" >/dev/null
  AUTH="Authorization: Bearer $KEY"
else
  AUTH="Cookie: gatehouse_session=$(sign_in "${AS:-admin@example.com}")"
fi
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends() {  # CPU ticks of the database's backend processes
  local sum=0 p
  for p in $(pgrep -f "postgres: .* gatehouse "); do sum=$((sum + $(ticks "$p"))); done
  echo "$sum"
}
wrk -t2 -c32 -d"${SECONDS_RUN}s" --latency -H "$AUTH" "$BASE$PAGE" \
  > "$GATEHOUSE_DATA_DIR/wrk.txt" &
w=$!
sleep 1  # past wrk's start
s0=$(ticks "$PID") p0=$(backends) t0=$(date +%s%N)
sleep $((SECONDS_RUN - 2))
s1=$(ticks "$PID") p1=$(backends) t1=$(date +%s%N)
wait $w
rate=$(awk '/Requests\/sec/{print $2}' "$GATEHOUSE_DATA_DIR/wrk.txt")
p99=$(awk '$1=="99%"{print $2}' "$GATEHOUSE_DATA_DIR/wrk.txt")
awk -v rate="$rate" -v p99="$p99" -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$HZ" \
  -v secs="$(( (t1 - t0) / 1000000 ))" 'BEGIN {
    printf "%s: %.0f req/s, p99 %s, server %.2f ms and PostgreSQL %.2f ms of CPU per request\n",
      "'"$PAGE"'", rate, p99, s / hz * 1000 / (rate * secs / 1000), p / hz * 1000 / (rate * secs / 1000) }'
kill $PID
[ -z "${KEY:-}" ] || psql -q "$DATABASE_URL" -c "DELETE FROM personal_api_keys WHERE name = 'cpu.sh'" >/dev/null
