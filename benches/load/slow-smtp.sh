#!/usr/bin/env bash
# An invitation POST's latency against an SMTP server that answers every command after DELAY
# seconds (default 0.5: about 3 s per message), and against one that answers at once.
# From the project root: bash benches/load/slow-smtp.sh [DELAY]
set -u
. "$(dirname "$0")/common.sh"
HERE=$(dirname "$0")
export INVITES_PER_ORG_PER_DAY=100000000 SMTP_URL=smtp://127.0.0.1:25250
for delay in 0 "${1:-0.5}"; do
  python3 "$HERE/slow_smtp.py" 25250 "$delay" & SMTP=$!
  sleep 0.3
  start_server
  SID=$(sign_in admin@example.com)
  curl -s -H "Cookie: gatehouse_session=$SID" -o "$GATEHOUSE_DATA_DIR/invite.html" "$BASE/orgs/acme-corp/access/invitations/new"
  CSRF=$(csrf_of "$GATEHOUSE_DATA_DIR/invite.html") SID=$SID ORIGIN=$BASE \
    wrk -t2 -c8 -d10s --latency -s "$HERE/invite.lua" "$BASE/orgs/acme-corp/access/invitations/new" > "$GATEHOUSE_DATA_DIR/wrk.txt"
  echo "SMTP ${delay}s per command: $(grep -E 'Requests/sec|50%|99%|Non-2xx' "$GATEHOUSE_DATA_DIR/wrk.txt" | tr -s ' ' | tr '\n' ' ')"
  kill $PID $SMTP; wait $PID $SMTP 2>/dev/null
done
