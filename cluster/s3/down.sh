#!/usr/bin/env bash
# Stop the S3-compatible server that up.sh started (its pid file), and forget its keys.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="${S3_STATE:-$(cd "$HERE/../.." && pwd)/.cloudrec/s3}"
PIDFILE="$STATE/server.pid"
if [ ! -f "$PIDFILE" ] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    rm -f "$PIDFILE" "$STATE/credentials.json"
    echo "s3: not running"
    exit 0
fi
pid="$(cat "$PIDFILE")"
kill -TERM "$pid"
for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
rm -f "$PIDFILE" "$STATE/credentials.json"
echo "s3: stopped"
