#!/usr/bin/env bash
# Real Apache RocketMQ on 127.0.0.1 for mqrpc's tests: a name server and one or
# two brokers of cluster DefaultCluster, run from jars that Maven copies from
# Maven Central (version pinned in pom.xml beside this script).
#
#   broker.sh fetch                 copy the jars (cached)
#   broker.sh up [--second]         start namesrv + broker-a [+ broker-b], fresh stores
#   broker.sh down                  stop everything this script started
#   broker.sh status                exit 0 when namesrv and broker-a run
#   broker.sh stop-broker NAME [--kill]  stop broker-a or broker-b, keep its store
#                                   (--kill: SIGKILL at once, a crash; TERM takes ~10 s)
#   broker.sh start-broker NAME     (re)start it on the store it has
#   broker.sh create-topic TOPIC [QUEUES]  create TOPIC on every running broker
#                                   (auto-creation puts a topic only on the broker
#                                   that gets the first send, and a consumer that
#                                   subscribed earlier sees it only ~30 s later)
#   broker.sh mqadmin ARGS...       run RocketMQ's mqadmin (exits 0 even when its
#                                   command fails: read its output); with ACL on,
#                                   it signs with the keys in
#                                   $ROCKETMQ_HOME_DIR/conf/tools.yml
#
# Progress goes to stderr; `up` and `start-broker` print MQRPC_NAMESRV=... on
# stdout, so `export "$(tools/rocketmq/broker.sh up)"` works.
# Env: ROCKETMQ_HOME_DIR (default <repo>/.rocketmq), ROCKETMQ_READY_TIMEOUT (s, 120),
# ROCKETMQ_BROKER_CONF_EXTRA (a file of broker settings appended to each
# broker's config, such as acl.conf beside this script),
# ROCKETMQ_PORT_OFFSET (default 0: added to every port, so that a second set of
# brokers, say a CI rehearsal beside a developer's, can run on one machine).
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$HERE/../.." && pwd)
ROOT=$(realpath -m -- "${ROCKETMQ_HOME_DIR:-$REPO/.rocketmq}")
LIB=$ROOT/lib
RUN=$ROOT/run
OFFSET=${ROCKETMQ_PORT_OFFSET:-0}
NAMESRV=127.0.0.1:$((9876 + OFFSET))
CLUSTER=DefaultCluster
READY_TIMEOUT=${ROCKETMQ_READY_TIMEOUT:-120}
STOP_TIMEOUT=30
STARTED=false # set when this invocation launches a process
VERSION=$(sed -n 's:.*<rocketmq.version>\(.*\)</rocketmq.version>.*:\1:p' "$HERE/pom.xml")

# listenPort per process. A broker also binds listenPort-2 (fast channel) and
# listenPort+1 (HA), so the two brokers sit 10 apart.
declare -A PORT=([namesrv]=$((9876 + OFFSET)) [broker-a]=$((10911 + OFFSET)) [broker-b]=$((10921 + OFFSET)))

JAVA_COMMON=(
  # Java 17: RocketMQ reflects into NIO internals to unmap files and buffers.
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
  -XX:-OmitStackTraceInFastThrow
  # The bundled logback configs use a deprecated element, which makes logback
  # print its whole status (~450 lines) to stdout on every start.
  -Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener
  -Drocketmq.home.dir="$ROOT"
)

say() { echo "broker.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- jars -------------------------------------------------------------------

fetch() {
  # The stamp names the version and the pom's hash, so editing the pom re-copies.
  local want; want="$VERSION $(sha256sum <"$HERE/pom.xml" | cut -c1-16)"
  if [[ -f $LIB/.complete && $(<"$LIB/.complete") == "$want" ]]; then
    say "jars for RocketMQ $VERSION already in $LIB"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to copy the RocketMQ jars)"
  say "copying RocketMQ $VERSION jars to $LIB (Maven)"
  # Copy next to the target and rename, so an interrupted copy never looks complete.
  rm -rf "$LIB.tmp"
  # Output only on failure: even -q -B leaves ANSI resets on stdout.
  local out
  out=$(mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB.tmp" 2>&1) || {
    echo "$out" >&2
    die "mvn dependency:copy-dependencies failed"
  }
  echo "$want" >"$LIB.tmp/.complete"
  rm -rf "$LIB"
  mv "$LIB.tmp" "$LIB"
}

# ---- processes --------------------------------------------------------------

# Prints the pid of NAME if its pid file names a live process that is ours: the
# -Dmqrpc.rocketmq.proc marker guards against a recycled pid.
pid_of() {
  local f=$RUN/$1.pid pid state
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  read -r _ _ state _ <"/proc/$pid/stat" 2>/dev/null || return 1
  [[ $state != Z ]] || return 1 # exited, not yet reaped: gone
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-Dmqrpc.rocketmq.proc=$1 " || return 1
  echo "$pid"
}

ports_of() {
  local p=${PORT[$1]}
  if [[ $1 == namesrv ]]; then echo "$p"; else echo "$((p - 2)) $p $((p + 1))"; fi
}

port_busy() { ss -Hltn "sport = :$1" | grep -q .; }

check_ports_free() {
  local p owner
  for p in $(ports_of "$1"); do
    if port_busy "$p"; then
      owner=$(ss -Hltnp "sport = :$p" | grep -o 'users:.*' | head -1) || true
      die "port $p (needed by $1) is already in use${owner:+ by $owner}"
    fi
  done
}

# launch NAME MAIN-CLASS CONF JVM-FLAGS...: start one JVM in the background,
# detached from this shell's session, output appended to run/NAME.log.
launch() {
  local name=$1 main=$2 conf=$3; shift 3
  local dir=$RUN/$name
  check_ports_free "$name"
  mkdir -p "$dir/home"
  # user.home per process: RocketMQ's own logs (home/logs/rocketmqlogs) and a
  # few user.home-relative store files must not be shared between brokers.
  setsid java "$@" "${JAVA_COMMON[@]}" -Dmqrpc.rocketmq.proc="$name" -Duser.home="$dir/home" \
    -cp "$LIB/*" "$main" -c "$conf" </dev/null >>"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# wait_log NAME FROM PATTERN: poll NAME's log (bytes from FROM on) for PATTERN
# until READY_TIMEOUT; fail with the log's tail if the process dies or time runs out.
wait_log() {
  local name=$1 from=$2 pattern=$3 deadline=$((SECONDS + READY_TIMEOUT))
  while ! tail -c "+$from" "$RUN/$name.log" | grep -q -- "$pattern"; do
    if ! pid_of "$name" >/dev/null; then
      tail -n 40 "$RUN/$name.log" >&2
      die "$name exited during startup (log: $RUN/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$RUN/$name.log" >&2
      stop TERM "$name"
      die "$name not ready after ${READY_TIMEOUT}s (log: $RUN/$name.log)"
    fi
    sleep 0.2
  done
}

log_size() { stat -c %s "$RUN/$1.log" 2>/dev/null || echo 0; }

start_namesrv() {
  local pid
  if pid=$(pid_of namesrv); then say "namesrv already running (pid $pid)"; return; fi
  mkdir -p "$RUN"
  rm -rf "$RUN/namesrv" && : >"$RUN/namesrv.log"
  STARTED=true
  sed -e "s|@PORT@|${PORT[namesrv]}|g" "$HERE/namesrv.conf" >"$RUN/namesrv.conf"
  launch namesrv org.apache.rocketmq.namesrv.NamesrvStartup "$RUN/namesrv.conf" -Xms128m -Xmx256m
  wait_log namesrv 1 "The Name Server boot success"
  say "namesrv up on $NAMESRV (pid $(pid_of namesrv), at ${SECONDS}s)"
}

# start_brokers fresh|keep NAME...: launch the brokers not yet running side by
# side (boot is CPU-bound JIT work, so this overlaps their idle spells), then
# wait for each one's boot line.
start_brokers() {
  local mode=$1 name dir pid
  local -A from=()
  shift
  pid_of namesrv >/dev/null || die "namesrv is not running (use: broker.sh up)"
  for name in "$@"; do
    if pid=$(pid_of "$name"); then say "$name already running (pid $pid)"; continue; fi
    dir=$RUN/$name
    if [[ $mode == fresh ]]; then rm -rf "$dir" && : >"$RUN/$name.log"; fi
    mkdir -p "$dir"
    sed -e "s|@NAME@|$name|g" -e "s|@PORT@|${PORT[$name]}|g" -e "s|@STORE@|$dir/store|g" -e "s|@NAMESRV@|$NAMESRV|g" \
      "$HERE/broker.conf.in" >"$dir/broker.conf"
    if [[ -n ${ROCKETMQ_BROKER_CONF_EXTRA:-} ]]; then cat -- "$ROCKETMQ_BROKER_CONF_EXTRA" >>"$dir/broker.conf"; fi
    from[$name]=$(($(log_size "$name") + 1)) # a restart appends: only read what this start writes
    STARTED=true
    launch "$name" org.apache.rocketmq.broker.BrokerStartup "$dir/broker.conf" \
      -Xms256m -Xmx512m -XX:MaxDirectMemorySize=512m
  done
  for name in "${!from[@]}"; do
    # Printed after the broker registered with the name server (synchronously).
    wait_log "$name" "${from[$name]}" "The broker\[$name, 127.0.0.1:${PORT[$name]}\] boot success"
    say "$name booted on 127.0.0.1:${PORT[$name]} (pid $(pid_of "$name"), at ${SECONDS}s)"
  done
}

# mqadmin, tuned for a short-lived JVM (C1 only, serial GC): startup dominates.
admin() {
  java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${JAVA_COMMON[@]}" \
    -Duser.home="$RUN/admin-home" -cp "$LIB/*" org.apache.rocketmq.tools.command.MQAdminStartup "$@"
}

# wait_cluster NAME...: the name server's cluster list shows each broker at its
# address. A broker registers before it prints "boot success", so this normally
# passes at once; it is the check that clients will find it. One call costs
# ~4 s (the admin client's shutdown waits out a 3 s poll), hence one for all.
wait_cluster() {
  local deadline=$((SECONDS + READY_TIMEOUT)) out name missing
  while :; do
    out=$(admin clusterList -n "$NAMESRV" 2>&1) || true
    missing=
    for name in "$@"; do
      grep -E -q "^$CLUSTER +$name +0 +127\.0\.0\.1:${PORT[$name]} " <<<"$out" || missing+=" $name"
    done
    [[ -z $missing ]] && break
    if ((SECONDS >= deadline)); then
      echo "$out" >&2
      die "not in clusterList of $NAMESRV after ${READY_TIMEOUT}s:$missing"
    fi
    sleep 0.5
  done
  say "clusterList of $NAMESRV shows $* (at ${SECONDS}s)"
}

# stop SIG NAME...: signal every running NAME at once, then wait for all of
# them, sending KILL to any still alive STOP_TIMEOUT s after a TERM. Brokers
# take ~10 s on TERM: their shutdown hook joins service threads one by one.
stop() {
  local sig=$1 name pid i p alive
  local -A pids=()
  shift
  for name in "$@"; do
    if pid=$(pid_of "$name"); then
      pids[$name]=$pid
      kill "-$sig" "$pid" 2>/dev/null || true
    else
      rm -f "$RUN/$name.pid"
    fi
  done
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    alive=false
    for name in "${!pids[@]}"; do pid_of "$name" >/dev/null && alive=true; done
    $alive || break
    sleep 0.2
  done
  for name in "${!pids[@]}"; do
    if pid_of "$name" >/dev/null; then
      say "$name (pid ${pids[$name]}) still alive ${STOP_TIMEOUT}s after $sig, sending KILL"
      kill -KILL "${pids[$name]}" 2>/dev/null || true
    fi
  done
  for name in "${!pids[@]}"; do
    for ((i = 0; i < 50; i++)); do pid_of "$name" >/dev/null || break; sleep 0.1; done
    pid_of "$name" >/dev/null && die "$name (pid ${pids[$name]}) would not die"
    # After a KILL the main thread is a zombie while the other threads still
    # tear down, and the ports stay bound meanwhile: wait them out too.
    for p in $(ports_of "$name"); do
      for ((i = 0; i < 100; i++)); do port_busy "$p" || break; sleep 0.1; done
    done
    rm -f "$RUN/$name.pid"
    say "$name stopped (was pid ${pids[$name]})"
  done
}

broker_name() {
  [[ ${1:-} == broker-a || ${1:-} == broker-b ]] || die "expected broker-a or broker-b, got '${1:-}'"
}

# ---- commands ---------------------------------------------------------------

cmd=${1:-}
shift || true
case $cmd in
fetch)
  fetch
  ;;
up)
  second=false
  case ${1:-} in --second) second=true ;; "") ;; *) die "up: unknown option $1" ;; esac
  mkdir -p "$RUN"
  brokers=(broker-a)
  if $second; then brokers+=(broker-b); fi
  # Fail on a busy port before starting anything, not halfway through.
  for n in namesrv "${brokers[@]}"; do pid_of "$n" >/dev/null || check_ports_free "$n"; done
  fetch
  start_namesrv
  start_brokers fresh "${brokers[@]}"
  if $STARTED; then wait_cluster "${brokers[@]}"; else say "all already running: nothing to do"; fi
  echo "MQRPC_NAMESRV=$NAMESRV"
  ;;
down)
  # Brokers first, so that their shutdown can still unregister from the name server.
  stop TERM broker-a broker-b
  stop TERM namesrv
  ;;
status)
  for n in namesrv broker-a broker-b; do
    if pid=$(pid_of "$n"); then echo "$n running (pid $pid)"; else echo "$n stopped"; fi
  done
  pid_of namesrv >/dev/null && pid_of broker-a >/dev/null
  ;;
stop-broker)
  broker_name "${1:-}"
  case ${2:-} in --kill) stop KILL "$1" ;; "") stop TERM "$1" ;; *) die "stop-broker: unknown option $2" ;; esac
  ;;
start-broker)
  broker_name "${1:-}"
  [[ -f $LIB/.complete ]] || die "no jars in $LIB (use: broker.sh up)"
  start_brokers keep "$1"
  if $STARTED; then wait_cluster "$1"; fi
  echo "MQRPC_NAMESRV=$NAMESRV"
  ;;
create-topic)
  [[ -n ${1:-} ]] || die "create-topic: missing TOPIC"
  pid_of namesrv >/dev/null || die "namesrv is not running (use: broker.sh up)"
  # mqadmin exits 0 even when a command fails: check for each broker's line.
  out=$(admin updateTopic -n "$NAMESRV" -c "$CLUSTER" -t "$1" -r "${2:-4}" -w "${2:-4}" 2>&1) || true
  for n in broker-a broker-b; do
    if pid_of "$n" >/dev/null && ! grep -q "create topic to 127.0.0.1:${PORT[$n]} success" <<<"$out"; then
      echo "$out" >&2
      die "create-topic $1 failed on $n"
    fi
  done
  say "topic $1 (${2:-4} queues) on every running broker"
  ;;
mqadmin)
  [[ -f $LIB/.complete ]] || die "no jars in $LIB (use: broker.sh fetch)"
  mkdir -p "$RUN"
  admin "$@"
  ;;
*)
  sed -n '2,28s/^# \{0,1\}//p' "$0" >&2
  exit 2
  ;;
esac
