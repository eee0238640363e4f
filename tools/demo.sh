#!/usr/bin/env bash
# The calculator demo: a server and a client, two processes, talking only
# through a real local RocketMQ broker. Starts the broker if it is not
# running and stops afterwards whatever it started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
broker=tools/rocketmq/broker.sh
export MQRPC_NAMESRV="${MQRPC_NAMESRV:-127.0.0.1:$((9876 + ${ROCKETMQ_PORT_OFFSET:-0}))}"

started_broker=""
server_pid=""
work=$(mktemp -d) # the built example and the server's log
cleanup() {
  if [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null; then
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$started_broker" ]; then
    "$broker" down
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! "$broker" status >/dev/null 2>&1; then
  echo "== starting a local RocketMQ broker"
  "$broker" up >/dev/null
  started_broker=yes
fi

echo "== building the calculator example"
go build -o "$work/calculator" ./examples/calculator

echo "== starting the server (its own process)"
log=$work/server.log
"$work/calculator" server >"$log" 2>&1 &
server_pid=$!
# Wait for the server to report that it is subscribed.
for _ in $(seq 1 600); do
  grep -q '^serving' "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
  sleep 0.1
done
grep -q '^serving' "$log" || { cat "$log"; echo "server did not start within 60s" >&2; exit 1; }
sed 's/^/   server: /' "$log"

echo "== calling it from a client (another process)"
"$work/calculator" client 7 2
echo "== again, now that both ends are warm"
"$work/calculator" client 1000 7

echo "== stopping the server gracefully"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
