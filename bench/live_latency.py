"""Live log latency: print -> WebSocket receive, through a real Daphne and a real runworker.

    .venv/bin/python bench/live_latency.py [--clients 1,50,200] [--seconds 10]
                                           [--modes sqlite,redis] [--json out.json]

For each mode (SQLite polling only; Redis channel layer for Daphne and worker)
and each client count, one install job prints "tick <i> <time.time()>" every
10 ms for 10 s (bench/fakesteamcmd.py through HOSTCTL_STEAMCMD, see
common.job_env). The clients (bench/wsclient.py processes, 100 connections each)
connect while the command waits for its go file, so every tick is live, not
replayed. Reported: print-to-receive latency p50/p99 over all clients, lost
and repeated lines per client (vs the rows in the database), whether every
client got {"type": "end"} and a 1000 close.

Tail queries/s: the tail polls inside the web process, so that part runs in a
child process that serves the same ASGI application in-process (channels'
WebsocketCommunicator) to 1 and to 200 viewers of a job run by the same real
worker, and counts the tail's database reads (wrapped on JobSource) over the run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TICK_MS = 10
PER_PROCESS = 100


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def job_behaviour(seconds):
    return common.job_env(BENCH_WAIT_GO=1, BENCH_TICK_MS=TICK_MS, BENCH_TICK_SECONDS=seconds)


def start_job(user, port):
    from jobs.models import Job

    server = common.make_server(user, port)
    job = Job.enqueue(server, "install", user)
    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="running").exists(), timeout=30)
    go = common.DATA / "servers" / str(server.id) / "go"
    common.wait_until(lambda: go.parent.exists(), timeout=10)
    return job, go


def rows_of(job_id):
    from jobs.models import JobLog

    return JobLog.objects.filter(job_id=job_id).count()


def commit_latencies(job_id):
    """Worker side only: the tick's print time -> its batch's created_at (taken just before the INSERT)."""
    from jobs.models import JobLog

    rows = JobLog.objects.filter(job_id=job_id, stream="stdout", line__startswith="tick ").values_list(
        "line", "created_at"
    )
    return [created.timestamp() - float(line.split()[2]) for line, created in rows]


# --- one run through Daphne ------------------------------------------------------------


def run_clients(web_port, user, cookie, n, seconds, game_port):
    job, go = start_job(user, game_port)
    procs = []
    for start in range(0, n, PER_PROCESS):
        k = min(PER_PROCESS, n - start)
        procs.append(
            subprocess.Popen(
                [
                    common.PY,
                    str(common.BENCH / "wsclient.py"),
                    str(web_port),
                    f"/ws/jobs/{job.id}/logs",
                    cookie,
                    str(k),
                    str(seconds + 40),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        line = proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"client process failed before READY: {line!r}")
    go.touch()
    clients = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        clients.extend(json.loads(out.strip().splitlines()[-1]))
    from jobs.models import Job

    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="succeeded").exists(), timeout=30)
    total = rows_of(job.id)
    commit = commit_latencies(job.id)
    latencies = [x for c in clients for x in c["latencies"]]
    lost = [total - c["distinct"] for c in clients]
    return {
        "clients": n,
        "rows": total,
        "ticks": len(clients[0]["latencies"]) if clients else 0,
        "commit_p50": common.pct(commit, 50),
        "commit_p99": common.pct(commit, 99),
        "p50": common.pct(latencies, 50),
        "p99": common.pct(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "lost_total": sum(lost),
        "lost_max": max(lost),
        "repeated_total": sum(c["repeats"] for c in clients),
        "ended": sum(1 for c in clients if c["ended"] and c["close_code"] == 1000),
        "errors": [c["error"] for c in clients if c["error"]][:3],
    }


# --- tail queries/s (in-process ASGI) -------------------------------------------------


def tail_child():
    common.attach()
    from channels.testing import WebsocketCommunicator

    from jobs.source import JobSource
    from l4d2site.asgi import application

    # Count the tail's database round trips: every poll reads the state and the new lines.
    polls = {"n": 0}
    for name in ("read_state", "read_lines"):
        real = getattr(JobSource, name)

        def counted(self, *args, _real=real):
            polls["n"] += 1
            return _real(self, *args)

        setattr(JobSource, name, counted)

    job_id, viewers, go, cookie = (
        int(opt("--job", 0)),
        int(opt("--viewers", 1)),
        Path(opt("--go", "")),
        opt("--cookie", ""),
    )

    async def run():
        headers = [
            (b"origin", b"http://127.0.0.1"),
            (b"host", b"127.0.0.1"),
            (b"cookie", f"sessionid={cookie}".encode()),
        ]
        comms = [
            WebsocketCommunicator(application, f"/ws/jobs/{job_id}/logs", headers=headers)
            for _ in range(viewers)
        ]
        for comm in comms:
            ok, _ = await comm.connect(timeout=30)
            assert ok
        for comm in comms:
            await comm.receive_from(timeout=30)  # the first state frame: subscribed
        counts = {"seqs": [set() for _ in comms], "repeats": [0] * viewers, "ended": [False] * viewers}

        async def follow(i, comm):
            while True:
                try:
                    message = json.loads(await comm.receive_from(timeout=60))
                except Exception:
                    return
                if message["type"] == "lines":
                    for row in message["lines"]:
                        if row["seq"] in counts["seqs"][i]:
                            counts["repeats"][i] += 1
                        counts["seqs"][i].add(row["seq"])
                elif message["type"] == "end":
                    counts["ended"][i] = True
                    return

        tasks = [asyncio.create_task(follow(i, c)) for i, c in enumerate(comms)]
        go.touch()
        await asyncio.sleep(1.0)
        p0, t0 = polls["n"], time.monotonic()
        await asyncio.sleep(float(opt("--window", 7)))
        p1, t1 = polls["n"], time.monotonic()
        await asyncio.gather(*tasks)
        for comm in comms:
            await comm.disconnect()
        return {
            "queries_per_s": (p1 - p0) / (t1 - t0),
            "distinct": [len(s) for s in counts["seqs"]],
            "repeats": sum(counts["repeats"]),
            "ended": sum(counts["ended"]),
        }

    print(json.dumps(asyncio.run(run())))


def tail_rate(user, cookie, viewers, env, game_port, seconds):
    job, go = start_job(user, game_port)
    out = subprocess.run(
        [
            common.PY,
            __file__,
            "--tail-child",
            "--job",
            str(job.id),
            "--viewers",
            str(viewers),
            "--go",
            str(go),
            "--cookie",
            cookie,
            "--window",
            str(max(1.0, seconds - 2.5)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    from jobs.models import Job

    common.wait_until(lambda: Job.objects.filter(pk=job.id, state="succeeded").exists(), timeout=30)
    total = rows_of(job.id)
    result["lost"] = sum(total - d for d in result.pop("distinct"))
    return result


# --- main -----------------------------------------------------------------------------


def main():
    if "--tail-child" in sys.argv:
        return tail_child()
    client_counts = [int(x) for x in opt("--clients", "1,50,200").split(",")]
    seconds = float(opt("--seconds", 10))
    modes = opt("--modes", "sqlite,redis").split(",")
    res, user, cookie = common.setup_with_owner("live")
    from streams import source as tail_module

    t_start = time.monotonic()
    game_port = 27200
    runs, tails = [], []
    for mode in modes:
        redis = {"REDIS_URL": common.REDIS_URL} if mode == "redis" else {}
        web_port = common.free_port()
        web = common.start_web(web_port, common.base_env(common.DATA, **redis), log_name=f"web-{mode}")
        worker_env = common.base_env(common.DATA, **job_behaviour(seconds), **redis)
        worker = common.start_worker(
            "--poll", "0.2", "--concurrency", "2", env=worker_env, log_name=f"worker-{mode}"
        )
        try:
            for n in client_counts:
                game_port += 1
                run = run_clients(web_port, user, cookie, n, seconds, game_port)
                run["mode"] = mode
                runs.append(run)
            common.stop_proc(web)
            for viewers in (1, max(client_counts)):
                game_port += 1
                result = tail_rate(
                    user, cookie, viewers, common.base_env(common.DATA, **redis), game_port, seconds
                )
                result.update(mode=mode, viewers=viewers)
                tails.append(result)
        finally:
            common.stop_proc(web)
            common.stop_proc(worker)

    print(f"\nLive log latency: a line every {TICK_MS} ms for {seconds:g} s, real Daphne + real runworker\n")
    print(
        common.table(
            [
                (
                    r["mode"],
                    r["clients"],
                    r["ticks"],
                    r["commit_p50"] * 1000,
                    r["commit_p99"] * 1000,
                    r["p50"] * 1000,
                    r["p99"] * 1000,
                    r["max"] * 1000,
                    r["lost_total"],
                    r["repeated_total"],
                    f"{r['ended']}/{r['clients']}",
                )
                for r in runs
            ],
            (
                "mode",
                "clients",
                "ticks",
                "print->batch p50",
                "print->batch p99",
                "p50 ms",
                "p99 ms",
                "max ms",
                "lost",
                "repeated",
                "end+1000",
            ),
        )
    )
    for r in runs:
        if r["errors"]:
            print(f"  {r['mode']}/{r['clients']}: client errors {r['errors']}")
    print(
        "\nTail database round trips (reads of JobSource, "
        f"POLL_SECONDS={tail_module.POLL_SECONDS}), in-process ASGI\n"
    )
    print(
        common.table(
            [
                (
                    t["mode"],
                    t["viewers"],
                    t["queries_per_s"],
                    t["lost"],
                    t["repeats"],
                    f"{t['ended']}/{t['viewers']}",
                )
                for t in tails
            ],
            ("mode", "viewers", "queries/s", "lost", "repeated", "ended"),
        )
    )
    print()
    targets = {("sqlite", 50): 0.250, ("sqlite", 200): 0.100, ("redis", 50): 0.025}
    for r in runs:
        target = targets.get((r["mode"], r["clients"]))
        res.add(
            f"{r['mode']} {r['clients']} clients p50",
            round(r["p50"] * 1000, 1),
            "",
            None,
            "ms",
        )
        res.add(
            f"{r['mode']} {r['clients']} clients p99",
            round(r["p99"] * 1000, 1),
            f"<= {target * 1000:.0f}" if target else "",
            (r["p99"] <= target) if target else None,
            "ms",
        )
        res.add(
            f"{r['mode']} {r['clients']} clients lost/repeated/ended",
            f"{r['lost_total']}/{r['repeated_total']}/{r['ended']}",
            f"0/0/{r['clients']}",
            r["lost_total"] == 0 and r["repeated_total"] == 0 and r["ended"] == r["clients"],
        )
    for mode in modes:
        rates = [t for t in tails if t["mode"] == mode]
        if len(rates) == 2:
            one, many = rates
            # The tail reads when woken by a write (and on its poll), never per viewer:
            # 200 viewers must not cost more reads than one.
            flat = many["queries_per_s"] <= 1.2 * one["queries_per_s"]
            res.add(
                f"{mode} tail queries/s, 1 vs {many['viewers']} viewers",
                f"{one['queries_per_s']:.1f} vs {many['queries_per_s']:.1f}",
                "not more (+20%)",
                flat and one["lost"] == 0 and many["lost"] == 0 and many["repeats"] == 0,
            )
    res.print()
    print(f"\n(live bench took {time.monotonic() - t_start:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
