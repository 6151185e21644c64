# Shared by the load scripts: starts the release binary against the side-by-side bench's seeded
# database (run `../shared/bench/run-anchors.sh` with KEEP_PG=1 first) and signs in.
# Knobs: GATEHOUSE_BIN, DATABASE_URL, PORT.
BIN=${GATEHOUSE_BIN:-$PWD/target/release/gatehouse}
PORT=${PORT:-18091}
BASE="http://127.0.0.1:$PORT"
export GATEHOUSE_MODE=local BASE_URL="$BASE" BIND="127.0.0.1:$PORT" WORKERS=${WORKERS:-2} \
  DATABASE_URL=${DATABASE_URL:-postgres://bench:bench@127.0.0.1:55432/gatehouse} \
  DATABASE_POOL_SIZE=8 API_RATE_PER_MINUTE=1000000000 RUST_LOG=warn \
  SESSION_KEY="$(head -c 48 /dev/urandom | base64 -w0)" GATEHOUSE_DATA_DIR="$(mktemp -d)"
PASSWORD=violet-harbor-quartz-1987
[ -x "$BIN" ] || { echo "no binary at $BIN: cargo build --release" >&2; exit 1; }

start_server() {  # start_server -> $PID
  psql -q "$DATABASE_URL" -c "DELETE FROM sign_in_failures; DELETE FROM sign_in_locks" >/dev/null
  "$BIN" serve > "$GATEHOUSE_DATA_DIR/app.log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && return; sleep 0.2; done
  echo "the server did not start: $(cat "$GATEHOUSE_DATA_DIR/app.log")" >&2; exit 1
}

csrf_of() { sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p;T;q' "$1"; }

sign_in() {  # sign_in EMAIL -> prints the session cookie's value
  local jar="$GATEHOUSE_DATA_DIR/$1.jar" form="$GATEHOUSE_DATA_DIR/$1.html"
  curl -s -c "$jar" -b "$jar" -o "$form" "$BASE/signin"
  curl -s -c "$jar" -b "$jar" -o /dev/null -H "Origin: $BASE" --data-urlencode "csrf_token=$(csrf_of "$form")" \
    --data-urlencode "email=$1" --data-urlencode "password=$PASSWORD" "$BASE/signin"
  awk '$6=="gatehouse_session"{v=$7} END{print v}' "$jar"
}
