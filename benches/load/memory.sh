#!/usr/bin/env bash
# Resident memory under load, and the members page's p99 with 20 sign-ins (argon2) started in
# parallel in the middle of it. From the project root: bash benches/load/memory.sh
set -u
. "$(dirname "$0")/common.sh"
start_server
SID=$(sign_in admin@example.com)
URL="$BASE/orgs/acme-corp/access/users"
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
echo "idle RSS after sign-in: $(rss) kB"
measure() {  # measure LABEL [sign-ins]
  wrk -t2 -c32 -d10s --latency -H "Cookie: gatehouse_session=$SID" "$URL" > "$GATEHOUSE_DATA_DIR/wrk.txt" &
  local w=$! peak=0 r signins=()
  if [ "${2:-0}" -gt 0 ]; then
    sleep 3
    for i in $(seq "$2"); do sign_in "member$(printf %05d "$i")@example.com" >/dev/null & signins+=($!); done
  fi
  while kill -0 $w 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1; done
  wait $w "${signins[@]}"
  echo "$1: $(grep -E 'Requests/sec|99%' "$GATEHOUSE_DATA_DIR/wrk.txt" | tr -s ' ' | tr '\n' ' ') peak RSS $peak kB"
}
measure "members page under load"
measure "members page with 20 parallel sign-ins" 20
kill $PID
