"""Log ingest: lines/s end to end, worker peak RSS, queue pickup latency.

    .venv/bin/python bench/ingest.py [--lines 200000] [--big 1000000] [--json out.json]

1. Throughput. A command prints N lines as fast as it can; they go through
   the real path into SQLite (WAL) and every line is checked (count + seq 1..N).
   Two drivers, side by side:
   - worker:    a real `manage.py runworker --once` runs an install job whose
                steamcmd is bench/fakesteamcmd.py (see common.job_env);
                rate = N / (last batch's created_at - job.started_at).
   - inprocess: hostctl.process.run_command -> the worker's line sink
                (streams.sink, group commit by its writer thread), in a child
                process (no claim, no judge).
   Beside them a raw baseline: the same N lines inserted with sqlite3
   executemany in batches of 500 (one transaction each) into a copy of the same
   database (same table, index, pragmas, foreign keys).
2. Peak RSS of the worker process for --big lines (VmHWM, read until it exits).
3. Pickup latency: a real `runworker` (default --poll 1), without and with Redis;
   50 `stop` jobs of servers that are not running, enqueued one at a time (random
   0-1 s apart, so they land at random points of the poll cycle); created_at ->
   started_at. The wake-up, not the poll, must bring each one.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

POLL = 1.0  # runworker's default: the wake-up, not the poll, must bring the pickup
PICKUP_JOBS = 50


def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


# --- child: the in-process path ------------------------------------------------------


def child_inprocess(n):
    common.attach()
    from django.utils import timezone

    from hostctl.process import CancelToken, run_command
    from jobs.models import Job
    from jobs.runner import job_sink

    job = Job.objects.get(pk=int(sys.argv[sys.argv.index("--job") + 1]))
    Job.objects.filter(pk=job.id).update(state="running", started_at=timezone.now())
    sink = job_sink(job.id)

    env = dict(common.base_env(common.DATA), BENCH_PRINT_LINES=str(n))
    argv = [str(common.FAKE_STEAMCMD), "+force_install_dir", str(common.DATA / "servers" / "x"), "+quit"]
    (common.DATA / "servers" / "x").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    code = run_command(argv, on_line=sink, cancel=CancelToken(), env=env)
    sink.flush()
    elapsed = time.perf_counter() - t0
    import resource

    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "code": int(code),
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


# --- parent ------------------------------------------------------------------------


def check_lines(job_id, n_expected_min):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*), MIN(seq), MAX(seq), COUNT(DISTINCT seq) FROM jobs_joblog WHERE job_id = %s",
            [job_id],
        )
        count, lo, hi, distinct = cur.fetchone()
        cur.execute(
            "SELECT COUNT(*) FROM jobs_joblog WHERE job_id = %s AND stream = 'stdout' AND line LIKE %s",
            [job_id, "%(line %"],
        )
        printed = cur.fetchone()[0]
    contiguous = count == distinct and lo == 1 and hi == count
    return {
        "rows": count,
        "printed_rows": printed,
        "contiguous": contiguous,
        "ok": contiguous and printed == n_expected_min,
    }


def run_worker_ingest(server, user, n):
    """A real runworker --once drains one install job printing n lines."""
    from jobs.models import Job, JobLog

    job = Job.enqueue(server, "install", user)
    env = common.base_env(common.DATA, **common.job_env(BENCH_PRINT_LINES=n))
    proc = common.start_worker(
        "--once", "--poll", "0.05", "--concurrency", "1", env=env, log_name="worker-ingest"
    )
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, common.peak_rss_mb(proc.pid) or 0)
        time.sleep(0.05)
    common.stop_proc(proc)
    job.refresh_from_db()
    last = JobLog.objects.filter(job=job).order_by("-seq").values_list("created_at", flat=True).first()
    elapsed = (last - job.started_at).total_seconds()
    check = check_lines(job.id, n)
    check["ok"] = check["ok"] and job.state == "succeeded"
    return {"elapsed": elapsed, "rate": n / elapsed, "peak_mb": peak, "state": job.state, **check}


def run_inprocess_ingest(server, user, n):
    from jobs.models import Job

    job = Job.enqueue(server, "install", user)
    out = subprocess.run(
        [common.PY, __file__, "--child-inprocess", str(n), "--job", str(job.id)],
        env=dict(common.base_env(common.DATA)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    Job.objects.filter(pk=job.id).update(state="succeeded")
    check = check_lines(job.id, n)
    return {"rate": n / result["elapsed"], "peak_mb": result["maxrss_mb"], **result, **check}


def raw_baseline(n, job_id):
    """The same lines, sqlite3 executemany, 500 per transaction, into a copy of the database."""
    from django.db import connection

    sys.path.insert(0, str(common.BENCH))
    from fakesteamcmd import line_text

    connection.close()
    src = sqlite3.connect(common.DATA / "db.sqlite3")
    path = common.DATA / "raw.sqlite3"
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("DELETE FROM jobs_joblog")
    lines = [line_text(i) for i in range(1, n + 1)]
    sql = "INSERT INTO jobs_joblog (job_id, seq, stream, line, created_at) VALUES (?, ?, ?, ?, ?)"
    t0 = time.perf_counter()
    for start in range(0, n, 500):
        created = time.strftime("%Y-%m-%d %H:%M:%S.000000")
        rows = [(job_id, i + 1, "stdout", lines[i], created) for i in range(start, min(start + 500, n))]
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    count = db.execute("SELECT COUNT(*) FROM jobs_joblog WHERE job_id = ?", (job_id,)).fetchone()[0]
    db.close()
    path.unlink()
    return {"rate": n / elapsed, "elapsed": elapsed, "rows": count}


def pickup_latency(user, mode):
    from django.db import connection

    from jobs.models import Job

    base = 28000 if mode == "sqlite" else 28010  # each mode its own servers (ports are unique)
    servers = [common.make_server(user, base + i, f"pickup-{mode}-{i}") for i in range(5)]
    redis = {"REDIS_URL": common.REDIS_URL} if mode == "redis" else {}
    env = common.base_env(common.DATA, **redis)
    proc = common.start_worker("--poll", str(POLL), env=env, log_name=f"worker-pickup-{mode}")
    time.sleep(1.0)  # let it start and settle into its poll cycle
    rng = random.Random(7)
    latencies = []
    try:
        for i in range(PICKUP_JOBS):
            time.sleep(rng.uniform(0, POLL))
            job = Job.enqueue(servers[i % len(servers)], "stop", user)
            common.wait_until(
                lambda job=job: Job.objects.filter(pk=job.id, state__in=("succeeded", "failed")).exists(),
                timeout=30,
                interval=0.02,
            )
            job.refresh_from_db()
            latencies.append((job.started_at - job.created_at).total_seconds())
    finally:
        common.stop_proc(proc)
        connection.close()
    return latencies


def main():
    if "--child-inprocess" in sys.argv:
        return child_inprocess(arg("--child-inprocess", 0))
    n = arg("--lines", 200_000)
    big = arg("--big", 1_000_000)
    common.setup("ingest")
    res = common.Results("ingest")
    user = common.make_user("owner")
    t_start = time.monotonic()

    def server(port):
        return common.make_server(user, port)

    worker = run_worker_ingest(server(27100), user, n)
    inproc = run_inprocess_ingest(server(27101), user, n)
    raw = raw_baseline(n, job_id=1)
    big_run = run_worker_ingest(server(27102), user, big)
    pickups = {mode: pickup_latency(user, mode) for mode in ("sqlite", "redis")}

    print(f"\nIngest of {n:,} lines (SQLite WAL; worker: group commit, raw: batches of 500)\n")
    print(
        common.table(
            [
                (
                    "real runworker, install job",
                    worker["rate"],
                    worker["elapsed"],
                    worker["rows"],
                    worker["contiguous"],
                    worker["peak_mb"],
                ),
                (
                    "in-process run_command->LogSink",
                    inproc["rate"],
                    inproc["elapsed"],
                    inproc["rows"],
                    inproc["contiguous"],
                    inproc["peak_mb"],
                ),
                ("raw sqlite3 executemany x500", raw["rate"], raw["elapsed"], raw["rows"], "", ""),
                (
                    f"real runworker, {big:,} lines",
                    big_run["rate"],
                    big_run["elapsed"],
                    big_run["rows"],
                    big_run["contiguous"],
                    big_run["peak_mb"],
                ),
            ],
            ("path", "lines/s", "seconds", "rows", "seq 1..N", "peak RSS MB"),
        )
    )
    for mode, latencies in pickups.items():
        print(
            f"Pickup, {mode} (runworker --poll {POLL}, {len(latencies)} stop jobs): "
            f"p50 {common.pct(latencies, 50) * 1000:.0f} ms, p99 {common.pct(latencies, 99) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )

    for name, run in (("real worker", worker), ("in-process path", inproc)):
        res.add(f"ingest lines/s ({name})", round(run["rate"]), ">= 50,000", run["rate"] >= 50_000, "lines/s")
    res.add("raw sqlite3 baseline", round(raw["rate"]), "", None, "lines/s")
    ratio = worker["rate"] / raw["rate"]
    res.add("worker / raw ratio", round(ratio, 3), ">= 0.3", ratio >= 0.3)
    ratio_in = inproc["rate"] / raw["rate"]
    res.add("in-process / raw ratio", round(ratio_in, 3), ">= 0.3", ratio_in >= 0.3)
    res.add(
        f"all {n:,} lines, seq 1..N (worker, in-process)",
        f"{worker['printed_rows']:,} / {inproc['printed_rows']:,}",
        "all, contiguous",
        worker["ok"] and inproc["ok"],
    )
    res.add(
        f"worker peak RSS, {big:,} lines",
        round(big_run["peak_mb"], 1),
        "< 200",
        big_run["peak_mb"] < 200,
        "MB",
    )
    res.add(f"all {big:,} lines, seq 1..N", f"{big_run['printed_rows']:,}", "all, contiguous", big_run["ok"])
    for mode, latencies in pickups.items():
        p99 = common.pct(latencies, 99)
        res.add(f"pickup latency p50, {mode}", round(common.pct(latencies, 50) * 1000), "", None, "ms")
        res.add(f"pickup latency p99, {mode}", round(p99 * 1000), "<= 50", p99 <= 0.05, "ms")
    res.print()
    print(f"\n(ingest bench took {time.monotonic() - t_start:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
