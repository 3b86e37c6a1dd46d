#!/usr/bin/env bash
# `make screenshots`: refresh the README's pictures in docs/. The browser tests that walk
# through each page take them (tests/browser/helpers.py `screenshot`), at 1366 px wide and
# at a phone's 390 px, against a real Daphne and worker with the simulated host; only the
# tests that take a picture run. Needs Debian's Chromium at /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=$(grep -l 'screenshot(' tests/browser/test_*.py)
UPDATE_SCREENSHOTS=1 .venv/bin/pytest -q -p no:cacheprovider $tests "$@"
ls -l docs/*.png
