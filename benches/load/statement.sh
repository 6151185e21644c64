#!/usr/bin/env bash
# PostgreSQL's CPU per execution of one statement, from the project root:
#   bash benches/load/statement.sh FILE.sql [EXECUTIONS] [pgbench -D options…]
# FILE.sql is one statement in pgbench's syntax (`:name` for a value given with -D name=value);
# it runs EXECUTIONS times (default 20,000) as a prepared statement on its generic plan, from one
# client, and the CPU the server's backend used is read from the postmaster's reaped children
# (so the client's own CPU, and the machine's other load, are not counted). Take a page's
# statement from PostgreSQL's log (log_min_duration_statement = 0), as the harness's SQL profile
# does. Runs against DATABASE_URL (default: the harness's database, kept with KEEP_PG=1) on this
# machine. Alternate runs of a statement and its variants: one run moves by about 10 %.
set -eu
FILE=$1
N=${2:-20000}
shift $(($# < 2 ? $# : 2))
URL=${DATABASE_URL:-postgres://bench:bench@127.0.0.1:55432/gatehouse}
command -v pgbench >/dev/null || { echo "needs pgbench (postgresql-client)" >&2; exit 1; }
data=$(psql -qAt "$URL" -c "SHOW data_directory")
postmaster=$(head -1 "$data/postmaster.pid" 2>/dev/null) || true
[ -r "/proc/${postmaster:-none}/stat" ] ||
  { echo "PostgreSQL must run on this machine, its data directory readable" >&2; exit 1; }
children() { awk '{print $16 + $17}' "/proc/$postmaster/stat"; }
sleep 0.2  # the psql above has been reaped
before=$(children)
PGOPTIONS="-c plan_cache_mode=force_generic_plan" \
  pgbench -n -M prepared -c 1 -t "$N" "$@" -f "$FILE" "$URL" >/dev/null
sleep 0.5  # the backend has exited and been reaped
after=$(children)
awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$N" -v f="$FILE" \
  'BEGIN { printf "%s: %.0f µs of PostgreSQL CPU per execution\n", f, t / hz * 1e6 / n }'
