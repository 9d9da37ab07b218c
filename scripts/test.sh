#!/usr/bin/env bash
# The whole suite: always on SQLite; on PostgreSQL + Redis too, at the same time, when
# DATABASE_URL and REDIS_URL reach running servers. Says plainly what it skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "NOTE: chromium is not installed; browser tests will be skipped (apt-get install chromium)"
  fi
fi

export PROCEDO_VAR="${PROCEDO_TEST_VAR:-$PWD/var/test}"
mkdir -p "$PROCEDO_VAR"

reachable() {  # reachable postgres|redis URL
  "$BIN/python" - "$1" "$2" <<'PY' >/dev/null 2>&1
import sys
kind, url = sys.argv[1], sys.argv[2]
if kind == "postgres":
    import psycopg
    psycopg.connect(url, connect_timeout=3).close()
else:
    import redis
    redis.Redis.from_url(url, socket_connect_timeout=3).ping()
PY
}

status=0
summary=()

pg_ok=0; redis_ok=0
if [ -n "${DATABASE_URL:-}" ] && reachable postgres "$DATABASE_URL"; then pg_ok=1; fi
if [ -n "${REDIS_URL:-}" ] && reachable redis "$REDIS_URL"; then redis_ok=1; fi

# With PostgreSQL reachable both runs go at once, one core each: they share no database, no
# Redis (the SQLite run has none) and no PROCEDO_VAR. This rather than pytest-xdist: on
# PostgreSQL an event consumer reads only behind the oldest transaction open on the whole
# server, so two workers' test transactions on one server would hold each other back.
pg_pid=
stop_pg() { if [ -n "$pg_pid" ]; then kill "$pg_pid" 2>/dev/null || true; fi; }
trap stop_pg EXIT
if [ $pg_ok = 1 ]; then
  if [ $redis_ok = 1 ]; then label="PostgreSQL + Redis suite"; else label="PostgreSQL suite"; fi
  pg_var="$PROCEDO_VAR-postgres"
  mkdir -p "$pg_var"
  pg_log="$pg_var/pytest.log"
  if [ $redis_ok = 1 ]; then
    run=( env PROCEDO_VAR="$pg_var" "$BIN/pytest" "$@" )
  else
    run=( env -u REDIS_URL PROCEDO_VAR="$pg_var" "$BIN/pytest" "$@" )
  fi
  echo "== $label started beside the SQLite suite (its output follows; meanwhile in $pg_log)"
  "${run[@]}" >"$pg_log" 2>&1 &
  pg_pid=$!
fi

echo "== SQLite suite"
if env -u DATABASE_URL -u REDIS_URL "$BIN/pytest" "$@"; then summary+=("SQLite suite: passed"); else status=1; summary+=("SQLite suite: FAILED"); fi

if [ $pg_ok = 1 ]; then
  wait "$pg_pid"; pg_status=$?
  pg_pid=
  echo
  echo "== $label"
  cat "$pg_log"
  if [ $pg_status = 0 ]; then summary+=("$label: passed"); else status=1; summary+=("$label: FAILED"); fi
else
  summary+=("SKIPPED the PostgreSQL suite: DATABASE_URL ${DATABASE_URL:+($DATABASE_URL) }is not set or not reachable")
  if [ $redis_ok = 1 ]; then
    echo "== Redis tests on SQLite"
    if env -u DATABASE_URL "$BIN/pytest" -m redis "$@"; then summary+=("Redis tests: passed"); else status=1; summary+=("Redis tests: FAILED"); fi
  fi
fi
if [ $redis_ok = 0 ]; then
  summary+=("SKIPPED the Redis tests: REDIS_URL ${REDIS_URL:+($REDIS_URL) }is not set or not reachable")
fi

echo
echo "== Summary"
printf '%s\n' "${summary[@]}"
exit $status
