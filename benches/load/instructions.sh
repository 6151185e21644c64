#!/usr/bin/env bash
# Instructions per request of the server on one page, counted by valgrind's callgrind (the same
# count whatever else the machine is doing, where req/s can move 2x from run to run), from the
# project root: bash benches/load/instructions.sh [PATH] [REQUESTS]
# (default: the member page of the 10,000-member organization, 50 sequential requests after 8
# to warm up), signed in as AS (default admin@example.com). Needs valgrind.
set -u
. "$(dirname "$0")/common.sh"
PAGE=${1:-/orgs/acme-corp/access/users}
N=${2:-50}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
export WORKERS=1
start_server
COOKIE="Cookie: gatehouse_session=$(sign_in "${AS:-admin@example.com}")"
kill "$PID"; wait "$PID" 2>/dev/null
# Under valgrind, opening a pool of 8 connections outlasts the pool's wait.
DATABASE_POOL_SIZE=2 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$GATEHOUSE_DATA_DIR/callgrind.%p" "$BIN" serve \
  > "$GATEHOUSE_DATA_DIR/valgrind.log" 2>&1 &
VPID=$!
for _ in $(seq 150); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done
get() { curl -s -o /dev/null -w '%{http_code}\n' -H "$COOKIE" "$BASE$PAGE"; }
for _ in $(seq 8); do get; done | grep -qv '^200$' && { echo "$PAGE did not answer 200" >&2; kill "$VPID"; exit 1; }
callgrind_control -i on "$VPID" >/dev/null
for _ in $(seq "$N"); do get >/dev/null; done
callgrind_control -i off "$VPID" >/dev/null
callgrind_control -d "$VPID" >/dev/null
sleep 1
kill "$VPID"; wait "$VPID" 2>/dev/null
OUT="$GATEHOUSE_DATA_DIR/callgrind.$VPID.1"
TOTAL=$(callgrind_annotate "$OUT" | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1; exit}')
echo "$PAGE: $((TOTAL / N)) instructions per request (profile: $OUT)"
