#!/usr/bin/env bash
# Runs a command with the local RocketMQ broker up. A broker that was already
# running is left running; one started here is stopped when the command ends,
# whatever its outcome.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
broker="$root/tools/rocketmq/broker.sh"

started=""
if ! "$broker" status >/dev/null 2>&1; then
  "$broker" up --second
  started=yes
fi
stop() { [ -z "$started" ] || "$broker" down; }
trap stop EXIT

export MQRPC_NAMESRV="${MQRPC_NAMESRV:-127.0.0.1:$((9876 + ${ROCKETMQ_PORT_OFFSET:-0}))}"
export MQRPC_BROKER_SCRIPT="$broker"
"$@"
