"""The web tier: the server page, a job page and the server list, in-process and through the panel.

    .venv/bin/python bench/pages_web.py [--seconds 10] [--clients 50] [--rate 50] [--viewers 200]

Run by bench/pages.py (its "web" part). The embedded default: SQLite, DJANGO_DEBUG=0, the
data of bench/webdata.py (20 servers, 300 jobs, 7 days of samples every 30 s, a job of
2,000 lines). For each page:

- in-process: Django's test Client in this process, one thread, one request after another
  (pages/s, and CPU ms per page);
- saturated: the running panel (scripts/web.py: one Daphne per core on one port) and
  --clients logged-in browsers asking again as soon as a page arrives (bench/httpload.py,
  in this process, on the same cores); the ratio to the in-process rate;
- open loop: --rate requests a second for --seconds, latency from when each was due;
- the same while a job streams a line every 10 ms to --viewers WebSocket viewers
  (bench/wsclient.py processes, a real runworker).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import httpload  # noqa: E402
import webdata  # noqa: E402

RATIO_TARGET = 1.2
OPEN_P99 = 0.100
STREAMING_P99 = 0.250
PER_PROCESS = 100  # WebSocket viewers per wsclient.py process


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def in_process(owner, url, seconds):
    """(pages per second, CPU ms per page) of one thread asking for `url` again and again."""
    from django.test import Client

    client = Client()
    client.force_login(owner)
    for _ in range(10):
        assert client.get(url).status_code == 200, url
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        client.get(url)
        count += 1
    return count / (time.perf_counter() - start), (time.process_time() - cpu) / count * 1000


def stream_to_viewers(owner, port, cookie, viewers, seconds):
    """Start a job printing a line every 10 ms for `seconds` and `viewers` WebSocket viewers of
    it; returns (the viewer processes, the job), once every viewer follows and the job prints."""
    from jobs.models import Job
    from servers.models import Server

    server = Server.objects.filter(owner=owner).order_by("-id").first()  # not the measured one
    job = Job.enqueue(server, "install", owner)
    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="running").exists(), timeout=60)
    go = common.DATA / "servers" / str(server.id) / "go"
    common.wait_until(lambda: go.parent.exists(), timeout=10)
    procs = [
        subprocess.Popen(
            [common.PY, str(common.BENCH / "wsclient.py"), str(port), f"/ws/jobs/{job.id}/logs", cookie]
            + [str(min(PER_PROCESS, viewers - start)), str(seconds + 60)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for start in range(0, viewers, PER_PROCESS)
    ]
    for proc in procs:
        if proc.stdout.readline().strip() != "READY":
            raise RuntimeError("a viewer process failed before READY")
    go.touch()
    return procs, job


def main():
    seconds, clients = float(opt("--seconds", 10)), int(opt("--clients", 50))
    rate, viewers = float(opt("--rate", 50)), int(opt("--viewers", 200))
    common.setup("pages-web")
    res = common.Results("pages")
    owner, server, job = webdata.fill(common)
    cookie = common.session_cookie(owner)
    pages = {
        "server page": f"/servers/{server.id}",
        "job page": f"/jobs/{job.id}",
        "server list": "/servers/",
    }
    figures = {name: {} for name in pages}
    for name, url in pages.items():
        figures[name]["rate"], figures[name]["cpu_ms"] = in_process(owner, url, seconds / 2)

    from django.db import connection

    connection.close()  # the panel's processes write sessions and jobs from here on
    port = common.free_port()
    tick_seconds = len(pages) * seconds + 20
    env = common.base_env(common.DATA, **common.job_env(BENCH_WAIT_GO=1, BENCH_TICK_MS=10))
    web = common.start_web(port, common.base_env(common.DATA))
    try:
        for name, url in pages.items():
            asyncio.run(httpload.open_loop(port, url, cookie, 20, 1))  # warm every process up
            figures[name]["saturated"], figures[name]["bad"] = asyncio.run(
                httpload.saturate(port, url, cookie, clients, seconds)
            )
            figures[name]["open"], bad = asyncio.run(httpload.open_loop(port, url, cookie, rate, seconds))
            figures[name]["bad"] += bad
        worker = common.start_worker(
            "--poll", "0.2", env={**env, "BENCH_TICK_SECONDS": str(tick_seconds)}, log_name="worker"
        )
        procs, streamed = stream_to_viewers(owner, port, cookie, viewers, tick_seconds)
        for name, url in pages.items():
            figures[name]["streaming"], bad = asyncio.run(
                httpload.open_loop(port, url, cookie, rate, seconds)
            )
            figures[name]["bad"] += bad
        followed = []
        for proc in procs:
            out, _ = proc.communicate(timeout=tick_seconds + 90)
            followed.extend(json.loads(out.strip().splitlines()[-1]))
        common.stop_proc(worker)
    finally:
        common.stop_proc(web)
    from jobs.models import JobLog

    processes = len(os.sched_getaffinity(0))
    live = [x for c in followed for x in c["latencies"]]
    rows_written = JobLog.objects.filter(job_id=streamed.id).count()
    whole = sum(
        1 for c in followed if c["ended"] and c["close_code"] == 1000 and c["distinct"] == rows_written
    )

    print(f"\nWeb tier: {processes} Daphne processes on one port, SQLite, DJANGO_DEBUG=0\n")
    rows = []
    for name, f in figures.items():
        ratio = f["saturated"] / f["rate"]
        rows.append(
            (
                name,
                f"{f['rate']:.0f}",
                f"{f['cpu_ms']:.1f}",
                f"{f['saturated']:.0f}",
                f"{ratio:.2f}",
                f"{common.pct(f['open'], 50) * 1000:.0f} / {common.pct(f['open'], 99) * 1000:.0f}",
                f"{common.pct(f['streaming'], 50) * 1000:.0f} / {common.pct(f['streaming'], 99) * 1000:.0f}",
            )
        )
        res.add(f"web {name} in-process, one thread", round(f["rate"]), "", None, "pages/s")
        res.add(f"web {name} in-process CPU per page", round(f["cpu_ms"], 1), "", None, "ms")
        res.add(
            f"web {name} through the panel, {clients} clients", round(f["saturated"]), "", None, "pages/s"
        )
        res.add(
            f"web {name} panel / in-process", round(ratio, 2), f">= {RATIO_TARGET}", ratio >= RATIO_TARGET
        )
        p99 = common.pct(f["open"], 99)
        res.add(
            f"web {name} p99, {rate:g} req/s",
            round(p99 * 1000),
            f"<= {OPEN_P99 * 1000:.0f}",
            p99 <= OPEN_P99,
            "ms",
        )
        p99 = common.pct(f["streaming"], 99)
        ok = p99 <= STREAMING_P99
        res.add(f"web {name} p99, {rate:g} req/s + {viewers} viewers", round(p99 * 1000), "<= 250", ok, "ms")
        res.add(f"web {name} answers other than 200", f["bad"], "0", f["bad"] == 0)
    print(
        common.table(
            rows,
            (
                "page",
                "in-process/s",
                "CPU ms",
                f"panel/s ({clients})",
                "ratio",
                f"{rate:g}/s p50/p99 ms",
                f"+{viewers} viewers p50/p99 ms",
            ),
        )
    )
    print()
    res.add(
        f"web streamed job: live p99 to {viewers} viewers meanwhile",
        round(common.pct(live, 99) * 1000, 1),
        "",
        None,
        "ms",
    )
    whole_of = f"{whole}/{viewers}"
    res.add("web streamed job: viewers with every line and the end", whole_of, whole_of, whole == viewers)
    res.print()
    res.dump()


if __name__ == "__main__":
    main()
