#!/usr/bin/env bash
# Runs a command with the local RocketMQ name server and both brokers up (the
# cluster tests need broker-b too), and a local Redis (tools/redis/redis.sh,
# port $REDIS_PORT, default 6379) for the shared dedup store's tests. What
# was already running is left running;
# what is started here is stopped when the command ends, whatever its outcome,
# and the command's exit status is kept.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
broker="$root/tools/rocketmq/broker.sh"
redis="$root/tools/redis/redis.sh"
redis_before=$("$redis" status 2>/dev/null || true)

# Which of namesrv, broker-a, broker-b run before anything is started.
before=$("$broker" status 2>/dev/null || true)
was_running() { grep -q "^$1 running" <<<"$before"; }
if ! was_running namesrv && { was_running broker-a || was_running broker-b; }; then
  # Stopping the name server started here would need `down`, which would
  # also stop those brokers.
  echo "with-broker.sh: a broker runs without its name server; stop it first (tools/rocketmq/broker.sh down)" >&2
  exit 1
fi

stop() {
  local rc=$? b
  failed() { [[ $rc != 0 ]] || rc=1; } # a failed stop fails a command that passed
  [[ $redis_before == "redis running" ]] || "$redis" down || failed
  if ! was_running namesrv; then
    # Everything was started here: down stops the brokers side by side.
    "$broker" down || failed
  else
    for b in broker-a broker-b; do
      was_running "$b" || "$broker" stop-broker "$b" || failed
    done
  fi
  exit "$rc"
}
trap stop EXIT

# up starts only what is not running (the brokers it starts get fresh
# stores), so a name server and broker-a already up gain broker-b.
"$broker" up --second >/dev/null
"$redis" up >/dev/null

export MQRPC_NAMESRV="${MQRPC_NAMESRV:-127.0.0.1:$((9876 + ${ROCKETMQ_PORT_OFFSET:-0}))}"
export MQRPC_BROKER_SCRIPT="$broker"
export MQRPC_REDIS="${MQRPC_REDIS:-127.0.0.1:${REDIS_PORT:-6379}}"
"$@"
