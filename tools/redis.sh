#!/bin/sh
# A throwaway Redis on loopback for the scale-out tests and bench: `tools/redis.sh start|stop|url`.
# Installs the Debian package when it is missing (needs root and apt), keeps its data under
# $REDLINE_REDIS_DIR (default /tmp/redline-redis), listens on 127.0.0.1:$REDLINE_REDIS_PORT only,
# with the append-only file on (fsync every second), as the deployment guide recommends.
# `start` prints the Redis URL; `stop` shuts it down (saving its data).
set -eu

DIR=${REDLINE_REDIS_DIR:-/tmp/redline-redis}
PORT=${REDLINE_REDIS_PORT:-63799}
URL="redis://127.0.0.1:$PORT/0"

install() {
    if command -v redis-server >/dev/null 2>&1; then return 0; fi
    if [ "$(id -u)" != 0 ]; then echo "redis.sh: redis-server is not installed and we are not root" >&2; exit 1; fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2 && apt-get install -y -q redis-server >&2
    command -v redis-server >/dev/null 2>&1 || { echo "redis.sh: Redis install failed" >&2; exit 1; }
}

up() {
    redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG
}

start() {
    install
    mkdir -p "$DIR"
    if ! up; then
        redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --daemonize yes --pidfile "$DIR/redis.pid" \
            --logfile "$DIR/redis.log" --appendonly yes --appendfsync everysec --save "" --protected-mode yes >&2
        i=0
        until up; do
            i=$((i + 1))
            if [ "$i" -gt 100 ]; then echo "redis.sh: Redis did not start (see $DIR/redis.log)" >&2; exit 1; fi
            sleep 0.1
        done
    fi
    echo "$URL"
}

stop() {
    if up; then redis-cli -h 127.0.0.1 -p "$PORT" shutdown >/dev/null 2>&1 || true; fi
    i=0
    while up && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) echo "$URL" ;;
    *) echo "usage: tools/redis.sh start|stop|url" >&2; exit 2 ;;
esac
