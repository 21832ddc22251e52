#!/usr/bin/env bash
# The hash-chained PostgreSQL baseline of docs/BENCHMARKS.md ("PostgreSQL baseline"): a
# throwaway PostgreSQL 15 on 127.0.0.1, pgbench appending hash-chained rows 100 per
# transaction (chain.sql) from 16 clients for N seconds, then the chain checked in SQL.
#
#   bench/pg/chain.sh [SECONDS]      (default 10)
#
# Environment: CLIENTS (default 16), DIR (parent of the temporary cluster; default $TMPDIR or
# /tmp; put it on the disk being compared). Installs Debian's `postgresql` when missing. The
# cluster listens on 127.0.0.1 only, on a free port, with PostgreSQL's default durability
# (fsync on, synchronous_commit on: a commit returns once its WAL is fdatasync'd); it is
# stopped and removed on exit. Prints events/s (pgbench's tps x 100). Exit 0 done and the
# chain verifies, 1 it does not, 2 could not run.
set -euo pipefail

run_seconds=${1:-10}
clients=${CLIENTS:-16}
here=$(cd "$(dirname "$0")" && pwd)
pgbin=/usr/lib/postgresql/15/bin

if [ ! -x "$pgbin/initdb" ] || ! command -v pgbench >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y postgresql || { apt-get update && apt-get install -y postgresql; }
  else
    sudo apt-get install -y postgresql || { sudo apt-get update && sudo apt-get install -y postgresql; }
  fi
fi
[ -x "$pgbin/initdb" ] || { echo "no PostgreSQL 15 in $pgbin" >&2; exit 2; }

work=$(mktemp -d "${DIR:-${TMPDIR:-/tmp}}/rotaledger-pg.XXXXXX")
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
started=0
cleanup() {
  if [ "$started" -eq 1 ]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free port: bind port 0 on loopback and read what the kernel chose.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${as_pg[@]}" "$pgbin/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --no-locale >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$work -c max_connections=$((clients + 10))" \
  start >/dev/null
started=1

psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench <<'SQL'
-- The payload of row `seq`: a teacher's registration, as rotaledger-bench's events are.
CREATE FUNCTION payload(s bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT '{"type":"teacher_registered","version":1,"teacher":"PG-' || s
      || '","name":"Bench teacher ' || s || '","school":"S' || lpad((s % 400)::text, 4, '0')
      || '","subject":"mathematics","title":"intermediate","key_level":"none",'
      || '"employed_date":"2005-09-01","date":"2010-01-01"}'
$$;
CREATE TABLE entries (seq bigint PRIMARY KEY, prev bytea NOT NULL, hash bytea NOT NULL, payload text NOT NULL);
CREATE TABLE head (id int PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');
SQL

echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data under $work" >&2
echo "pgbench: $clients clients, 100 hash-chained rows per transaction, $run_seconds s" >&2
out=$(pgbench -n -M prepared -c "$clients" -j 2 -T "$run_seconds" -f "$here/chain.sql" \
  -h 127.0.0.1 -p "$port" -U postgres bench)
echo "$out" >&2
tps=$(echo "$out" | awk '/^tps = / {print $3; exit}')
lat=$(echo "$out" | awk '/^latency average = / {print $4; exit}')

# The chain: every row's hash recomputed, every link to the row before, the head at the end.
check=$(psql_ -d bench -At <<'SQL'
SELECT (SELECT count(*) FROM entries)
    || ' ' || (SELECT seq FROM head WHERE id = 1)
    || ' ' || (SELECT count(*) FROM (
         SELECT seq, prev, hash, payload, lag(hash) OVER (ORDER BY seq) AS before,
                lag(seq) OVER (ORDER BY seq) AS seq_before
         FROM entries) e
       WHERE e.hash <> sha256(e.prev || convert_to(e.payload, 'UTF8'))
          OR (e.before IS NOT NULL AND (e.before <> e.prev OR e.seq_before <> e.seq - 1)))
    || ' ' || ((SELECT hash FROM head WHERE id = 1)
               = coalesce((SELECT hash FROM entries ORDER BY seq DESC LIMIT 1), (SELECT hash FROM head WHERE id = 1)));
SQL
)
read -r rows head_seq bad head_ok <<<"$check"
events=$(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 100 }')
echo "transactions/s: $tps (latency average $lat ms), events/s: $events"
echo "chain: $rows rows, head at $head_seq, $bad bad rows, head matches the last row: $head_ok"
if [ "$rows" = "$head_seq" ] && [ "$bad" = "0" ] && [ "$head_ok" = "true" ]; then
  exit 0
fi
echo "the chain does not verify" >&2
exit 1
