"""Run every bench and print one combined table (`make bench`).

    .venv/bin/python bench/run_all.py [ingest live_latency storm cancel_latency pages peers automation search
                                       prune supervision console api]

Each bench runs as its own process (its own throwaway data dir and processes),
prints its detailed tables, and hands its (metric, value, target, pass/fail)
rows back through a JSON file. Exit status 1 if any target failed or a bench
crashed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

BENCHES = {
    "ingest": 180,
    "live_latency": 300,
    "storm": 300,
    "cancel_latency": 240,
    "pages": 1200,  # the job lists (a million jobs written), then the web tier
    "peers": 240,
    "automation": 180,
    "search": 900,
    "prune": 300,
    "supervision": 900,
    "console": 300,
    "api": 240,
}


def main():
    chosen = [name for name in sys.argv[1:] if name in BENCHES] or list(BENCHES)
    rows, started = [], time.monotonic()
    for name in chosen:
        print(f"\n===== {name} " + "=" * (60 - len(name)), flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            path = out.name
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                [common.PY, str(common.BENCH / f"{name}.py"), "--json", path], timeout=BENCHES[name]
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        elapsed = time.monotonic() - t0
        try:
            result = json.loads(Path(path).read_text() or "[]")
        except (OSError, ValueError):
            result = []
        Path(path).unlink(missing_ok=True)
        if code != 0 or not result:
            rows.append(
                {
                    "bench": name,
                    "metric": "bench ran",
                    "value": f"exit {code}",
                    "unit": "",
                    "target": "exit 0",
                    "ok": False,
                }
            )
        rows.extend(result)
        rows.append(
            {
                "bench": name,
                "metric": "runtime",
                "value": round(elapsed),
                "unit": "s",
                "target": "",
                "ok": None,
            }
        )

    print("\n===== summary " + "=" * 53)
    for key, value in common.machine().items():
        print(f"{key:>7}: {value}")
    print()
    table = [
        (
            r["bench"],
            r["metric"],
            r["value"],
            r["unit"],
            r["target"],
            "" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL"),
        )
        for r in rows
    ]
    print(common.table(table, ("bench", "metric", "value", "unit", "target", "result"), left=2))
    failed = sum(1 for r in rows if r["ok"] is False)
    passed = sum(1 for r in rows if r["ok"] is True)
    print(f"\n{passed} passed, {failed} failed, {time.monotonic() - started:.0f} s in all")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
