#!/bin/sh
# A throwaway PostgreSQL on loopback for the test suite and the bench: `tools/pg.sh start|stop|url`.
# Installs the Debian package when it is missing (needs root and apt), keeps its data under
# $REDLINE_PG_DIR (default /tmp/redline-pg), listens on 127.0.0.1:$REDLINE_PG_PORT only, and
# trusts loopback connections: it holds nothing but test data. `start` prints the database URL.
set -eu

PGDIR=${REDLINE_PG_DIR:-/tmp/redline-pg}
PORT=${REDLINE_PG_PORT:-54329}
DB=redline_test
URL="postgresql://postgres@127.0.0.1:$PORT/$DB"

pgbin() {
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

as_owner() {
    # initdb refuses to run as root: run the server as the `postgres` system user then.
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
    if pgbin >/dev/null; then return 0; fi
    if [ "$(id -u)" != 0 ]; then echo "pg.sh: PostgreSQL is not installed and we are not root" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 && apt-get install -y -q postgresql >&2
    pgbin >/dev/null || { echo "pg.sh: PostgreSQL install failed" >&2; exit 1; }
}

start() {
    install
    BIN=$(pgbin)
    if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
        mkdir -p "$PGDIR"
        if [ "$(id -u)" = 0 ]; then chown postgres "$PGDIR"; fi
        as_owner "$BIN/initdb" -D "$PGDIR/data" -U postgres -A trust --no-sync >&2
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
        # fsync stays on: the crash test relies on committed appends being durable.
        as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c max_connections=100" start >&2
    fi
    if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -Atc "select 1 from pg_database where datname='$DB'" postgres | grep -q 1; then
        as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    fi
    echo "$URL"
}

stop() {
    BIN=$(pgbin) || exit 0
    if [ -f "$PGDIR/data/PG_VERSION" ]; then
        as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >&2 || true
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) echo "$URL" ;;
    *) echo "usage: tools/pg.sh start|stop|url" >&2; exit 2 ;;
esac
