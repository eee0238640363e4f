#!/usr/bin/env bash
# Runs a local Redis for the tests of the shared dedup store
# (runtime/redisdedup): on 127.0.0.1, port $REDIS_PORT (default 6379), no
# persistence, its pid file and log under $REDIS_HOME_DIR (default
# .redis/ in the repository, git-ignored).
#
#   tools/redis/redis.sh up       start it and wait until it answers PING; prints MQRPC_REDIS=...
#   tools/redis/redis.sh down     stop the one started here (by its pid file)
#   tools/redis/redis.sh status   "redis running" or "redis stopped"
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
port="${REDIS_PORT:-6379}"
dir="${REDIS_HOME_DIR:-$root/.redis}/$port"
pidfile="$dir/redis.pid"
server="${REDIS_SERVER:-redis-server}"
cli="${REDIS_CLI:-redis-cli}"

running() {
  [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

ping() {
  [[ $("$cli" -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]
}

up() {
  if running; then
    echo "MQRPC_REDIS=127.0.0.1:$port"
    return
  fi
  if ping; then
    echo "redis.sh: something else answers on 127.0.0.1:$port; set REDIS_PORT" >&2
    exit 1
  fi
  mkdir -p "$dir"
  rm -f "$pidfile"
  "$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize yes --pidfile "$pidfile" --logfile "$dir/redis.log" --dir "$dir"
  local i
  for ((i = 0; i < 200; i++)); do # 10 s
    if ping; then
      echo "MQRPC_REDIS=127.0.0.1:$port"
      return
    fi
    sleep 0.05
  done
  echo "redis.sh: redis on 127.0.0.1:$port did not answer PING within 10 s; log: $dir/redis.log" >&2
  tail -5 "$dir/redis.log" >&2 || true
  exit 1
}

down() {
  running || { rm -f "$pidfile"; return; }
  local pid i
  pid=$(cat "$pidfile")
  kill "$pid"
  for ((i = 0; i < 200; i++)); do # 10 s
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return; }
    sleep 0.05
  done
  echo "redis.sh: redis (pid $pid) did not stop within 10 s; killing it" >&2
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) if running; then echo "redis running"; else echo "redis stopped"; fi ;;
*)
  echo "usage: $0 up|down|status" >&2
  exit 2
  ;;
esac
