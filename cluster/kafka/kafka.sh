#!/usr/bin/env bash
# A single-node Apache Kafka 4 broker (KRaft, broker+controller in one JVM) on loopback, for
# development and CI. The jars come from Maven Central (pom.xml beside this script) and are cached.
#
#   cluster/kafka/kafka.sh up      fetch jars (once), format (once), start, wait until it answers
#   cluster/kafka/kafka.sh down    SIGTERM, wait for a clean exit
#   cluster/kafka/kafka.sh status  exit 0 when a broker answers on the bootstrap address
#
# Settings (environment): KAFKA_PORT (9092; the controller listens on KAFKA_PORT+1),
# KAFKA_STATE (.cloudrec/kafka: data, log, pid), KAFKA_LIBS (~/.cache/cloudrec/kafka-<version>),
# KAFKA_HEAP (-Xmx512m), PYTHON (.venv/bin/python, for the readiness probe).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/pom.xml")"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="$((PORT + 1))"
STATE="${KAFKA_STATE:-$ROOT/.cloudrec/kafka}"
LIBS="${KAFKA_LIBS:-$HOME/.cache/cloudrec/kafka-$VERSION}"
HEAP="${KAFKA_HEAP:--Xmx512m}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PIDFILE="$STATE/broker.pid"
LOG="$STATE/broker.log"
BOOTSTRAP="127.0.0.1:$PORT"

fetch_jars() {
    [ -f "$LIBS/.complete" ] && return
    echo "kafka: resolving org.apache.kafka:kafka_2.13:$VERSION from Maven Central into $LIBS"
    rm -rf "$LIBS" && mkdir -p "$LIBS"
    mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIBS"
    touch "$LIBS/.complete"
}

write_config() {
    mkdir -p "$STATE/data"
    cat > "$STATE/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$STATE/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}

java_run() {
    java "$HEAP" -XX:+UseG1GC -Djava.awt.headless=true -cp "$LIBS/*" "$@"
}

format_once() {
    [ -f "$STATE/data/meta.properties" ] && return
    local id; id="$(java_run kafka.tools.StorageTool random-uuid 2>>"$LOG.format")"
    java_run kafka.tools.StorageTool format --standalone --ignore-formatted \
        -t "$id" -c "$STATE/server.properties" >>"$LOG.format" 2>&1
}

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answers() {
    "$PYTHON" "$HERE/ready.py" "$BOOTSTRAP" "${1:-1}"
}

up() {
    if answers 1 2>/dev/null; then echo "kafka: a broker already answers on $BOOTSTRAP"; return; fi
    fetch_jars
    write_config
    format_once
    echo "kafka: starting Apache Kafka $VERSION on $BOOTSTRAP (log: $LOG)"
    nohup java "$HEAP" -XX:+UseG1GC -Djava.awt.headless=true -cp "$LIBS/*" \
        kafka.Kafka "$STATE/server.properties" >"$LOG" 2>&1 </dev/null &
    echo $! > "$PIDFILE"
    if ! answers 90; then
        echo "kafka: the broker did not answer on $BOOTSTRAP within 90 s; its log:" >&2
        tail -n 80 "$LOG" >&2
        down
        exit 1
    fi
    echo "kafka: ready on $BOOTSTRAP (pid $(cat "$PIDFILE"))"
}

down() {
    if ! running; then rm -f "$PIDFILE"; echo "kafka: not running"; return; fi
    local pid; pid="$(cat "$PIDFILE")"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "kafka: pid $pid did not stop in 30 s, killing it" >&2
        kill -KILL "$pid"
    fi
    rm -f "$PIDFILE"
    echo "kafka: stopped"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) answers 1 ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
