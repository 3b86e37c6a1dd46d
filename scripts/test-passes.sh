#!/usr/bin/env bash
# `make test`'s two passes side by side: the suite on SQLite, and again on PostgreSQL + Redis
# (scripts/test-services.sh). Most tests wait on real processes and sockets, so one pass keeps
# well under a core busy (PostgreSQL pass: 6 CPU minutes in 14); together they take about as
# long as the longer one. Each writes its own log; both are printed once both have ended, and
# the exit status is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

.venv/bin/pytest -q -p no:cacheprovider "$@" >"$logs/sqlite" 2>&1 &
sqlite=$!
./scripts/test-services.sh -p no:cacheprovider "$@" >"$logs/services" 2>&1 &
services=$!

wait "$sqlite"; sqlite_status=$?
wait "$services"; services_status=$?
echo "== SQLite pass =="
cat "$logs/sqlite"
cat "$logs/services"
if ((sqlite_status)); then exit "$sqlite_status"; fi
exit "$services_status"
