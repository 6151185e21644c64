#!/usr/bin/env bash
# Resident memory under load, and the members page's p99 with 20 sign-ins (argon2) started in
# parallel in the middle of it. From the project root: bash benches/load/memory.sh
# The 20 sign-in forms are fetched beforehand and posted by one curl process, so the load
# generator's own processes do not take the cores from the server during the measurement.
# CONTROL=1 posts them with a wrong CSRF token: the same requests without argon2.
set -u
# Each sign-in comes from its own address (as through a proxy): 20 parallel sign-ins from one
# address are refused by the sign-in throttle, as they should be.
export TRUSTED_PROXIES=127.0.0.1/32
. "$(dirname "$0")/common.sh"
start_server
SID=$(sign_in admin@example.com)
URL="$BASE/orgs/acme-corp/access/users"
rss() { awk '/VmRSS/{print $2}' /proc/$PID/status; }
echo "idle RSS after sign-in: $(rss) kB"
signin_posts() {  # signin_posts N -> the arguments of one curl posting N sign-in forms
  local i email jar form
  for i in $(seq "$1"); do
    email="member$(printf %05d "$i")@example.com"
    jar="$GATEHOUSE_DATA_DIR/$email.jar" form="$GATEHOUSE_DATA_DIR/$email.html"
    curl -s -c "$jar" -b "$jar" -o "$form" "$BASE/signin"
    [ "$i" -gt 1 ] && printf '%s\n' --next
    # The cookie as a header: one curl shares one cookie store between its transfers.
    printf '%s\n' -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Origin: $BASE" \
      -H "X-Forwarded-For: 192.0.2.$i" \
      -H "Cookie: gatehouse_session=$(awk '$6=="gatehouse_session"{v=$7} END{print v}' "$jar")" \
      --data-urlencode "csrf_token=${CONTROL:+x}$(csrf_of "$form")" \
      --data-urlencode "email=$email" --data-urlencode "password=$PASSWORD" "$BASE/signin"
  done
}
measure() {  # measure LABEL [sign-ins]
  local posts=() took=""
  [ "${2:-0}" -gt 0 ] && mapfile -t posts < <(signin_posts "$2")
  wrk -t2 -c32 -d10s --latency -H "Cookie: gatehouse_session=$SID" "$URL" > "$GATEHOUSE_DATA_DIR/wrk.txt" &
  local w=$! peak=0 r s=""
  if [ "${#posts[@]}" -gt 0 ]; then
    sleep 3
    curl -s -Z --parallel-max "$2" "${posts[@]}" > "$GATEHOUSE_DATA_DIR/signins.txt" 2>/dev/null & s=$!
  fi
  while kill -0 $w 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.1; done
  wait $w $s
  [ -n "$s" ] && took=", sign-ins $(awk '{print $1}' "$GATEHOUSE_DATA_DIR/signins.txt" | sort | uniq -c | tr -s ' ' | tr '\n' ' ')the slowest in $(sort -k2 -n "$GATEHOUSE_DATA_DIR/signins.txt" | tail -1 | cut -d' ' -f2) s"
  echo "$1: $(grep -E 'Requests/sec|99%' "$GATEHOUSE_DATA_DIR/wrk.txt" | tr -s ' ' | tr '\n' ' ') peak RSS $peak kB$took"
}
measure "members page under load"
measure "members page with 20 parallel sign-ins" 20
kill $PID
