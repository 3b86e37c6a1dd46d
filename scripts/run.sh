#!/usr/bin/env bash
# `make run`: set up on SQLite with the simulated host, then run the web tier (one Daphne
# per core on one port, scripts/web.py) and the worker side by side until Ctrl-C, which
# stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DJANGO_HTTPS=${DJANGO_HTTPS:-0}
export HOSTCTL_SIMULATE=${HOSTCTL_SIMULATE:-1}

$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput >/dev/null
$PY manage.py bootstrap

$PY manage.py runworker &
worker=$!
$PY scripts/web.py --host "$HOST" --port "$PORT" &
web=$!
stop() {
  trap - INT TERM EXIT
  kill -TERM "$web" "$worker" 2>/dev/null || true
  wait "$web" "$worker" 2>/dev/null || true
}
trap stop INT TERM EXIT
echo
echo "  L4D2 host panel: http://$HOST:$PORT/   (Ctrl-C stops the web server and the worker)"
echo
wait -n "$web" "$worker"
