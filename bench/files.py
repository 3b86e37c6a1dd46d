"""The file relay's time: a 1 MiB and a 16 MiB file read and written through a real worker,
and a 20,000-entry folder listed (the relay alone, and the whole browser page).

    .venv/bin/python bench/files.py [--modes sqlite,postgres] [--runs 7]

Each mode runs in a fresh process of its own (Django is set up once per process):
`sqlite` is the default install (one SQLite file, local datagram wake-ups), `postgres`
a throwaway database on BENCH_PG_URL's server with Redis nudges (BENCH_REDIS_URL). A
real `runworker` serves the relay; this process is the web side and calls the functions
the pages and the API call (servers.files.relay): write_file stores the bytes in a
FileRequest row, the worker writes them to disk (temp file, fsync, rename) and answers;
read_file is answered with the bytes in the row. Times are wall clock per call, random
bytes (nothing compresses), the file on the server's directory under the data dir. The
page is rendered in this process by Django's test client (no HTTP), after the relay.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SIZES = {"1 MiB": 1024 * 1024, "16 MiB": 16 * 1024 * 1024}


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def one_mode(mode: str, runs: int) -> dict:
    extra = {}
    if mode == "postgres":
        extra = {"DATABASE_URL": common.pg_database("files"), "REDIS_URL": common.REDIS_URL}
    data_dir = common.setup(f"files-{mode}", **extra)
    from jobs.models import WorkerProcess
    from servers.files import relay

    server = common.make_server(common.make_user("owner"), 27600)
    (data_dir / "servers" / str(server.id)).mkdir(parents=True)
    worker = common.start_worker("--poll", "1", env=dict(os.environ))
    common.wait_until(WorkerProcess.objects.exists, timeout=60)
    relay.list_dir(server, "")  # the first round trip opens connections and subscriptions
    out = {}
    for label, size in SIZES.items():
        data = os.urandom(size)
        writes, reads = [], []
        for _ in range(runs):
            started = time.perf_counter()
            relay.write_file(server, "bench.bin", data)
            writes.append(time.perf_counter() - started)
            started = time.perf_counter()
            content = relay.read_file(server, "bench.bin")
            reads.append(time.perf_counter() - started)
            assert content.data == data, "the bytes read back are not the bytes written"
        out[label] = {"write": writes, "read": reads}
    out["20,000 entries"] = big_folder(server, data_dir / "servers" / str(server.id), runs)
    common.stop_proc(worker)
    return out


def big_folder(server, home, runs):
    """A folder of 20,000 files: the relay's listing alone, and the whole browser page."""
    from django.test import Client

    from servers.files import relay

    folder = home / "addons"
    folder.mkdir()
    for i in range(20_000):
        (folder / f"map{i:05d}.vpk").touch()
    client = Client()
    client.force_login(server.owner)
    lists, pages = [], []
    for _ in range(runs):
        started = time.perf_counter()
        assert len(relay.list_dir(server, "addons")["entries"]) == 20_000
        lists.append(time.perf_counter() - started)
        started = time.perf_counter()
        page = client.get(f"/servers/{server.id}/files?path=addons")
        pages.append(time.perf_counter() - started)
        assert page.status_code == 200 and page.content.count(b'name="paths"') == 20_000
    return {"list": lists, "page": pages}


def main():
    if "--one" in sys.argv:
        print(json.dumps(one_mode(opt("--one", "sqlite"), int(opt("--runs", 7)))))
        return
    runs = int(opt("--runs", 7))
    rows = []
    for mode in opt("--modes", "sqlite,postgres").split(","):
        answer = subprocess.run(
            [sys.executable, __file__, "--one", mode, "--runs", str(runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        for label, times in json.loads(answer.stdout.strip().splitlines()[-1]).items():
            for op in times:
                ms = [t * 1000 for t in times[op]]
                rows.append((mode, f"{op} {label}", len(ms), statistics.median(ms), max(ms)))
    print(f"\nFile relay: web process -> FileRequest row -> runworker -> disk and back ({runs} runs)\n")
    print(common.table(rows, ("mode", "operation", "runs", "p50 ms", "max ms")))


if __name__ == "__main__":
    main()
