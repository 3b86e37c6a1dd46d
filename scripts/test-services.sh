#!/usr/bin/env bash
# The second pass of `make test`: the Django suite again on PostgreSQL + Redis.
# hostctl's tests touch no database, and the browser tests check pages and scripts, which the
# database does not change, so the first pass covers both (and one Chromium at a time runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
if ! reason=$(.venv/bin/python - <<'PY'
import os, sys
import psycopg, redis
try:
    psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=3).close()
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3).ping()
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}".splitlines()[0])
    sys.exit(1)
PY
); then
  echo "SKIPPED the PostgreSQL + Redis pass: services not reachable ($reason)."
  echo "Start PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see README) to run it."
  exit 0
fi
echo "== PostgreSQL + Redis pass ($DATABASE_URL, $REDIS_URL) =="
exec .venv/bin/pytest -q --ignore=tests/hostctl --ignore=tests/browser "$@"
