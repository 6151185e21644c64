#!/usr/bin/env bash
# An invitation POST's latency against an SMTP server that answers every command after DELAY
# seconds (default 0.5: about 3 s per message), and against one that answers at once, in the
# order immediate, slow, slow, immediate. Each run starts without the invitations, their audit
# events and their mail from the runs before: every POST counts the day's invitations against
# the daily limit (at most 200 by default, here unbounded), so otherwise each run would be
# slower than the one before whatever the SMTP server does.
# From the project root: bash benches/load/slow-smtp.sh [DELAY]
set -u
. "$(dirname "$0")/common.sh"
HERE=$(dirname "$0")
export INVITES_PER_ORG_PER_DAY=100000000 SMTP_URL=smtp://127.0.0.1:25250
DELAY=${1:-0.5}
forget_invitations() {  # the audit log is append-only: as superuser, past its trigger
  psql -q "$DATABASE_URL" >/dev/null <<'SQL'
SET session_replication_role = replica;
DELETE FROM audit_events WHERE action = 'invitation.created' AND target LIKE 'slow%@example.com';
DELETE FROM email_outbox WHERE recipient LIKE 'slow%@example.com';
DELETE FROM invitations WHERE email LIKE 'slow%@example.com';
SQL
}
for delay in 0 "$DELAY" "$DELAY" 0; do
  forget_invitations
  python3 "$HERE/slow_smtp.py" 25250 "$delay" & SMTP=$!
  sleep 0.3
  start_server
  SID=$(sign_in admin@example.com)
  curl -s -H "Cookie: gatehouse_session=$SID" -o "$GATEHOUSE_DATA_DIR/invite.html" "$BASE/orgs/acme-corp/access/invitations/new"
  CSRF=$(csrf_of "$GATEHOUSE_DATA_DIR/invite.html") SID=$SID ORIGIN=$BASE \
    wrk -t2 -c8 -d10s --latency -s "$HERE/invite.lua" "$BASE/orgs/acme-corp/access/invitations/new" > "$GATEHOUSE_DATA_DIR/wrk.txt"
  echo "SMTP ${delay}s per command: $(grep -E '^ +(50|99)%|Requests/sec|Non-2xx' "$GATEHOUSE_DATA_DIR/wrk.txt" | tr -s ' ' | tr '\n' ' ')"
  kill $PID $SMTP; wait $PID $SMTP 2>/dev/null
done
