#!/usr/bin/env bash
# An S3-compatible HTTP server on loopback for development and tests: moto's server mode (PyPI
# `moto[server]`, in the dev dependency group). It checks request signatures for real: the first
# requests are free and create an IAM user whose key pair is written to the credentials file, so a
# wrong secret gets SignatureDoesNotMatch. Everything is in memory: `down` then `up` empties it.
#
# Settings (environment): S3_PORT (9310), S3_STATE (.cloudrec/s3: pid, log, credentials.json),
# PYTHON (.venv/bin/python). Idempotent: a server that already answers is kept.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${S3_PORT:-9310}"
STATE="${S3_STATE:-$ROOT/.cloudrec/s3}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
ENDPOINT="http://127.0.0.1:$PORT"
FREE_REQUESTS=3  # create user, put its policy, create its access key

answers() {
    "$PYTHON" - "$ENDPOINT" <<'PY'
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1).read()
PY
}

mkdir -p "$STATE"
if answers 2>/dev/null; then
    if [ -f "$STATE/credentials.json" ]; then
        echo "s3: a server already answers on $ENDPOINT"
        exit 0
    fi
    echo "s3: another server holds $ENDPOINT and its keys are not in $STATE;" \
         "stop it (its checkout's make s3-down) or choose another S3_PORT" >&2
    exit 1
fi
echo "s3: starting moto_server on $ENDPOINT (log: $STATE/server.log)"
INITIAL_NO_AUTH_ACTION_COUNT="$FREE_REQUESTS" nohup "$(dirname "$PYTHON")/moto_server" \
    -H 127.0.0.1 -p "$PORT" >"$STATE/server.log" 2>&1 </dev/null &
echo $! > "$STATE/server.pid"
for _ in $(seq 1 60); do
    if answers 2>/dev/null; then break; fi
    if ! kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then break; fi
    sleep 0.5
done
if ! answers 2>/dev/null; then
    echo "s3: the server did not answer on $ENDPOINT within 30 s; its log:" >&2
    tail -n 40 "$STATE/server.log" >&2
    "$HERE/down.sh"
    exit 1
fi
"$PYTHON" -m cloudrec.actors.uploader.s3 bootstrap "$ENDPOINT" "$STATE/credentials.json"
echo "s3: ready on $ENDPOINT (pid $(cat "$STATE/server.pid"), keys in $STATE/credentials.json)"
