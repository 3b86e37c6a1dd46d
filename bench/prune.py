"""Pruning 100,000 old jobs while someone watches a live log: does the viewer notice?

    .venv/bin/python bench/prune.py [--jobs 100000] [--lines-per-job 5] [--seconds 60] [--json out.json]

SQLite (the default install, where a delete holds the one write lock). --jobs finished
jobs from 60 days ago, each with --lines-per-job log lines, are written straight into
the database. Then a real Daphne and a real runworker run a job that prints
"tick <i> <time.time()>" every 10 ms (bench/fakesteamcmd.py), watched over a
WebSocket by bench/wsclient.py, and after 3 s `manage.py prunejobs --older-than 30`
runs as its own process. Reported: print-to-browser latency of the ticks printed
while the prune ran (p50, p99, max) beside those printed before it, lines lost or
repeated, and what the prune deleted and how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TICK_MS = 10
P99_TARGET_MS = 500


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def fill(server, user, jobs, lines_per_job):
    """Old finished jobs and their lines, inserted in big transactions (set-up, not measured)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from jobs.models import Job, JobLog

    when = timezone.now() - timedelta(days=60)
    table = connection.ops.quote_name(JobLog._meta.db_table)
    line_sql = f"INSERT INTO {table} (job_id, seq, stream, line, created_at) VALUES (%s, %s, %s, %s, %s)"
    batch = 5000
    for start in range(0, jobs, batch):
        with transaction.atomic():
            made = Job.objects.bulk_create(
                [
                    Job(
                        server=server,
                        kind="update",
                        state="succeeded",
                        requested_by=user,
                        exit_code=0,
                        created_at=when,
                        started_at=when,
                        finished_at=when,
                    )
                    for _ in range(min(batch, jobs - start))
                ]
            )
            rows = [
                (job.id, seq, "stdout", f" Update state (0x61) downloading, progress: {seq}0.00", when)
                for job in made
                for seq in range(1, lines_per_job + 1)
            ]
            with connection.cursor() as cursor:
                cursor.executemany(line_sql, rows)


def main():
    jobs, per_job = int(opt("--jobs", 100_000)), int(opt("--lines-per-job", 5))
    seconds = float(opt("--seconds", 60))
    common.setup("prune")
    res = common.Results("prune")
    from jobs.models import Job, JobLog

    user = common.make_user("owner")
    old_server = common.make_server(user, 27500, name="history")
    t0 = time.perf_counter()
    fill(old_server, user, jobs, per_job)
    print(f"{jobs:,} old jobs with {jobs * per_job:,} lines written in {time.perf_counter() - t0:.0f} s")
    cookie = common.session_cookie(user)

    web_port = common.free_port()
    env = common.base_env(common.DATA)
    common.start_daphne(web_port, env)
    worker_env = common.base_env(
        common.DATA, **common.job_env(BENCH_WAIT_GO=1, BENCH_TICK_MS=TICK_MS, BENCH_TICK_SECONDS=seconds)
    )
    common.start_worker("--poll", "0.2", env=worker_env)

    live = common.make_server(user, 27501, name="live")
    job = Job.enqueue(live, "install", user)
    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="running").exists(), timeout=30)
    go = common.DATA / "servers" / str(live.id) / "go"
    common.wait_until(lambda: go.parent.exists(), timeout=10)
    viewer = subprocess.Popen(
        [
            common.PY,
            str(common.BENCH / "wsclient.py"),
            str(web_port),
            str(job.id),
            cookie,
            "1",
            str(seconds + 40),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    if viewer.stdout.readline().strip() != "READY":
        raise RuntimeError("the viewer did not get the stream")
    go.touch()
    time.sleep(3)
    started = time.time()
    prune = subprocess.run(
        [common.PY, "manage.py", "prunejobs", "--older-than", "30"],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    ended = time.time()
    print(prune.stdout.strip() or prune.stderr[-2000:])
    out, _ = viewer.communicate(timeout=seconds + 60)
    client = json.loads(out.strip().splitlines()[-1])[0]
    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="succeeded").exists(), timeout=30)
    total = JobLog.objects.filter(job_id=job.id).count()

    pairs = list(zip(client["sent"], client["latencies"], strict=True))
    during = [lat for sent, lat in pairs if started <= sent <= ended]
    before = [lat for sent, lat in pairs if sent < started]
    after = [lat for sent, lat in pairs if sent > ended]
    left_jobs = Job.objects.filter(server=old_server).count()
    left_lines = JobLog.objects.filter(job__server=old_server).count()
    covered = not after or ended <= max(client["sent"])

    print(
        f"\nPrune of {jobs:,} jobs ({jobs * per_job:,} lines) while a log streams a line every {TICK_MS} ms\n"
    )
    rows = [
        (
            name,
            len(values),
            common.pct(values, 50) * 1000,
            common.pct(values, 99) * 1000,
            max(values, default=0) * 1000,
        )
        for name, values in (("before the prune", before), ("during the prune", during), ("after it", after))
    ]
    print(common.table(rows, ("ticks printed", "count", "p50 ms", "p99 ms", "max ms")))
    print()
    p99 = common.pct(during, 99) * 1000
    res.add("prune took", round(ended - started, 1), "", None, "s")
    res.add(
        "jobs / lines left of the old ones",
        f"{left_jobs} / {left_lines}",
        "0 / 0",
        left_jobs == left_lines == 0,
    )
    res.add("ticks printed during the prune", len(during), "> 0, all of the prune", bool(during) and covered)
    res.add("viewer p50 during the prune", round(common.pct(during, 50) * 1000, 1), "", None, "ms")
    res.add("viewer p99 during the prune", round(p99, 1), f"<= {P99_TARGET_MS}", p99 <= P99_TARGET_MS, "ms")
    res.add("viewer p99 before the prune", round(common.pct(before, 99) * 1000, 1), "", None, "ms")
    lost, repeats = total - client["distinct"], client["repeats"]
    res.add(
        "lines lost/repeated/ended",
        f"{lost}/{repeats}/{int(client['ended'])}",
        "0/0/1",
        (lost, repeats) == (0, 0) and client["ended"],
    )
    res.print()
    res.dump()


if __name__ == "__main__":
    main()
