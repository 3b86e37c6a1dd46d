"""Cancel side by side: this panel, Celery and RQ stopping the same hostile process tree.

    .venv/bin/python bench/peers.py [--runs 5] [--json out.json]

Needs the bench-only requirements (bench/requirements.txt: celery, rq) and a Redis:
the panel runs in Redis mode on BENCH_REDIS_URL, Celery and RQ on the next db
number (or BENCH_PEERS_REDIS_URL); their keys there are deleted on exit.

The tree is bench/hostile_tree.py for all three: a command ignoring SIGTERM with
two children (the job's grandchildren) ignoring it too, one that called setsid()
and one that stayed in the command's process group. Each records its pid in a
file, so the bench finds all three even once nothing else can.
- panel: real Daphne + real runworker (REDIS_URL set, HOSTCTL_STOP_GRACE=1); an
  install job whose steamcmd (HOSTCTL_STEAMCMD) is the tree; POST
  /jobs/<id>/cancel with a session + CSRF. Reported stopped: job row `cancelled`.
- celery: `celery worker --pool=prefork --concurrency=1`, a task that runs the
  tree with subprocess.run; app.control.revoke(id, terminate=True,
  signal="SIGTERM"). Reported stopped: AsyncResult(id).state is final (REVOKED).
- rq: `rq worker` (forking), the same function as an RQ job;
  rq.command.send_stop_job_command(). Reported stopped: the job's status is
  final (stopped).
Each run: start the job, wait until the three pids are recorded, settle 0.5 s,
then the clock starts just before the cancel request. Watched for CAP seconds:
when the system reports the job stopped, and when no process of the tree is left
(a zombie counts as gone). Whatever is alive at CAP is counted, named and killed.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from cancel_latency import Http, alive  # noqa: E402

GRACE = 1.0  # the panel's HOSTCTL_STOP_GRACE
CAP = 5.0  # how long each run watches the tree after the cancel request
SETTLE = 0.5  # the tree is up; give every system the same moment before the cancel
TREE = common.BENCH / "hostile_tree.py"
ROLES = ("root", "setsid", "group")


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def peers_redis_url() -> str:
    if os.environ.get("BENCH_PEERS_REDIS_URL"):
        return os.environ["BENCH_PEERS_REDIS_URL"]
    parts = urlsplit(common.REDIS_URL)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % 16}"))


PEERS_REDIS_URL = peers_redis_url()
os.environ["BENCH_PEERS_REDIS_URL"] = PEERS_REDIS_URL  # read by peer_tasks, here and in the workers


# --- the tree's processes -----------------------------------------------------------


def recorded(pid_dir: Path) -> list[tuple[str, int]]:
    return [(f.name.split(".")[0], int(f.name.split(".")[1])) for f in pid_dir.iterdir()]


def tree_up(pid_dir: Path) -> dict | None:
    """{role: psutil.Process} once all three processes have recorded their pid."""
    found = dict(recorded(pid_dir))
    if set(found) != set(ROLES):
        return None
    # psutil.Process pins the creation time: a reused pid never counts as alive.
    return {role: psutil.Process(pid) for role, pid in found.items()}


def kill_all(procs) -> None:
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=3)


_pid_dirs: list[Path] = []


def kill_leftover_trees() -> None:
    """atexit: kill every recorded tree process still running (checked by argv, pids get reused)."""
    procs = []
    for pid_dir in _pid_dirs:
        for _, pid in recorded(pid_dir) if pid_dir.exists() else []:
            try:
                proc = psutil.Process(pid)
                if str(TREE) in " ".join(proc.cmdline()):
                    procs.append(proc)
            except psutil.Error:
                pass
    kill_all(procs)


# --- the three systems ---------------------------------------------------------------


class Panel:
    name = "panel"

    def __init__(self, pid_dir: Path):
        self.user = common.make_user("owner")
        self.server = common.make_server(self.user, 27400)
        redis = {"REDIS_URL": common.REDIS_URL}
        port = common.free_port()
        self.daphne = common.start_daphne(port, common.base_env(common.DATA, **redis))
        self.web = Http(port, common.session_cookie(self.user))
        command = {**common.job_env(BENCH_PID_DIR=pid_dir), "HOSTCTL_STEAMCMD": str(TREE)}
        env = common.base_env(common.DATA, HOSTCTL_STOP_GRACE=GRACE, **command, **redis)
        self.proc = common.start_worker("--poll", "0.1", env=env)

    def start(self):
        from jobs.models import Job

        self.job = Job.enqueue(self.server, "install", self.user)

    def cancel(self):
        status = self.web.post(f"/jobs/{self.job.id}/cancel")
        if status >= 400:
            raise RuntimeError(f"POST /jobs/{self.job.id}/cancel: HTTP {status}")

    def reported(self):
        from jobs.models import FINISHED_STATES, Job

        state = Job.objects.filter(pk=self.job.id).values_list("state", flat=True).first()
        return state if state in FINISHED_STATES else None

    def close(self):
        common.stop_proc(self.proc)
        common.stop_proc(self.daphne)


def start_peer_worker(argv, pid_dir: Path, log_name: str) -> subprocess.Popen:
    # Not the panel's environment: with DJANGO_SETTINGS_MODULE set, Celery would set Django up.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "L4D2_", "HOSTCTL_"))}
    env.update(BENCH_PID_DIR=str(pid_dir), PYTHONPATH=str(common.BENCH))
    log = open(common.DATA / f"{log_name}.log", "ab")
    proc = subprocess.Popen([common.PY, "-m", *argv], cwd=common.BENCH, env=env, stdout=log, stderr=log)
    _peer_workers.append(proc)
    return proc


_peer_workers: list[subprocess.Popen] = []


def stop_peer_worker(proc: subprocess.Popen) -> None:
    """TERM the worker (then KILL), and kill pool processes it left behind."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    common.stop_proc(proc)
    kill_all([c for c in children if alive(c)])
    _peer_workers.remove(proc)


def stop_peer_workers() -> None:  # atexit
    for proc in list(_peer_workers):
        stop_peer_worker(proc)


class CeleryPeer:
    name = "celery"

    def __init__(self, pid_dir: Path):
        import peer_tasks

        self.tasks = peer_tasks
        self.proc = start_peer_worker(
            # gossip/mingle/heartbeat only matter between several workers; off, it starts faster.
            ["celery", "-A", "peer_tasks", "worker", "--pool=prefork", "--concurrency=1", "--loglevel=INFO"]
            + ["-Q", peer_tasks.QUEUE, "-n", f"bench-peers-{os.getpid()}@%h"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            pid_dir,
            "celery",
        )

    def start(self):
        self.result = self.tasks.celery_run_tree.delay()

    def cancel(self):
        self.tasks.app.control.revoke(self.result.id, terminate=True, signal="SIGTERM")

    def reported(self):
        state = self.tasks.app.AsyncResult(self.result.id).state
        return state if state in ("REVOKED", "FAILURE", "SUCCESS") else None

    def close(self):
        stop_peer_worker(self.proc)


class RQPeer:
    name = "rq"

    def __init__(self, pid_dir: Path):
        import peer_tasks
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(PEERS_REDIS_URL)
        self.queue = Queue(peer_tasks.QUEUE, connection=self.redis)
        self.func = peer_tasks.run_tree
        name = f"bench-peers-{os.getpid()}"
        self.proc = start_peer_worker(
            ["rq.cli", "worker", "--url", PEERS_REDIS_URL, "-n", name, peer_tasks.QUEUE], pid_dir, "rq"
        )

    def start(self):
        self.job = self.queue.enqueue(self.func)

    def cancel(self):
        from rq.command import send_stop_job_command

        send_stop_job_command(self.redis, self.job.id)

    def reported(self):
        status = self.job.get_status(refresh=True)
        status = getattr(status, "value", status)
        return status if status in ("stopped", "failed", "canceled", "finished") else None

    def close(self):
        stop_peer_worker(self.proc)


def delete_peer_keys() -> None:
    """Drop what Celery and RQ keep in their Redis db (the Redis is shared).

    At exit, and at start too: a task left queued by a crashed run would
    otherwise be the first one the new worker runs.
    """
    from peer_tasks import QUEUE
    from redis import Redis

    redis = Redis.from_url(PEERS_REDIS_URL)
    for pattern in (f"{QUEUE}*", "celery*", "_kombu.*", "unacked*", "rq:*"):
        keys = list(redis.scan_iter(pattern))
        if keys:
            redis.delete(*keys)


# --- one run -------------------------------------------------------------------------


def run_once(system, pid_dir: Path) -> dict:
    for f in pid_dir.iterdir():
        f.unlink()
    system.start()

    def ready():
        if system.proc.poll() is not None:
            raise RuntimeError(
                f"{system.name} worker exited ({system.proc.returncode}); its log: {common.DATA}"
            )
        return tree_up(pid_dir)

    tree = common.wait_until(ready, timeout=30)
    time.sleep(SETTLE)
    t0 = time.perf_counter()
    system.cancel()
    reported = stopped_at = gone_at = root_gone_at = None
    while stopped_at is None or gone_at is None:
        now = time.perf_counter() - t0
        if now > CAP:
            break
        if stopped_at is None and (reported := system.reported()):
            stopped_at = now
        if root_gone_at is None and not alive(tree["root"]):
            root_gone_at = now
        if gone_at is None and not any(alive(p) for p in tree.values()):
            gone_at = now
        time.sleep(0.005)
    left = [role for role, proc in tree.items() if alive(proc)]
    kill_all([tree[role] for role in left])
    # What the system says once it is all over (a state reported early may still change).
    final = system.reported()
    return {
        "reported": reported,
        "final": final,
        "stopped": stopped_at,
        "root gone": root_gone_at,
        "gone": gone_at,
        "left": left,
    }


# --- numbers -------------------------------------------------------------------------


def ms(seconds):
    """Milliseconds, or '> CAP' for a run (or a statistic) that never got there."""
    return f"> {CAP * 1000:,.0f}" if seconds is None else round(seconds * 1000)


def stat(values, how):
    """median/max where a missing value (never happened within CAP) counts as infinite."""
    ordered = sorted(float("inf") if v is None else v for v in values)
    value = ordered[len(ordered) // 2] if how == "median" else ordered[-1]
    return None if value == float("inf") else value


def reports(results) -> str:
    seen = {
        r["reported"] if r["final"] == r["reported"] else f"{r['reported']} -> {r['final']}" for r in results
    }
    return "/".join(sorted(str(x) for x in seen))


def main():
    runs = int(opt("--runs", 5))
    common.setup("peers")
    delete_peer_keys()
    atexit.register(delete_peer_keys)  # atexit runs last-in first-out: trees, then workers, then keys
    atexit.register(stop_peer_workers)
    atexit.register(kill_leftover_trees)
    started = time.monotonic()
    out = {}
    for cls in (Panel, CeleryPeer, RQPeer):
        pid_dir = common.DATA / f"pids-{cls.name}"
        pid_dir.mkdir()
        _pid_dirs.append(pid_dir)
        system = cls(pid_dir)
        out[cls.name] = [run_once(system, pid_dir) for _ in range(runs)]
        system.close()  # the next system gets the (two) cores to itself

    print(
        f"\nCancel, compared: the same tree (command + setsid child + in-group child, all ignoring SIGTERM), "
        f"{runs} runs each;\nclock from the cancel request; watched {CAP:g} s; panel grace {GRACE:g} s\n"
    )
    detail = []
    for name, results in out.items():
        left = [role for r in results for role in r["left"]]
        detail.append(
            (
                name,
                reports(results),
                ms(stat([r["stopped"] for r in results], "median")),
                ms(stat([r["stopped"] for r in results], "max")),
                ms(stat([r["root gone"] for r in results], "median")),
                ms(stat([r["gone"] for r in results], "median")),
                ms(stat([r["gone"] for r in results], "max")),
                f"{len(left) / runs:g} of {len(ROLES)}",
                ", ".join(f"{role} x{left.count(role)}" for role in ROLES if role in left) or "-",
            )
        )
    print(
        common.table(
            detail,
            (
                "system",
                "reports",
                "stopped p50 ms",
                "stopped max",
                "command gone p50",
                "tree gone p50 ms",
                "tree gone max",
                f"alive at {CAP:g} s/run",
                "left alive",
            ),
        )
    )
    print()
    res = common.Results("peers")
    for name, results in out.items():
        panel = name == "panel"
        stopped_max = stat([r["stopped"] for r in results], "max")
        survivors = sum(len(r["left"]) for r in results)
        res.add(f"{name} reports", reports(results))
        res.add(
            f"{name} stopped (as reported) p50",
            ms(stat([r["stopped"] for r in results], "median")),
            unit="ms",
        )
        limit = GRACE + 1
        res.add(
            f"{name} stopped (as reported) max",
            ms(stopped_max),
            f"<= {limit * 1000:.0f}" if panel else "",
            (stopped_max is not None and stopped_max <= limit) if panel else None,
            "ms",
        )
        res.add(f"{name} tree gone p50", ms(stat([r["gone"] for r in results], "median")), unit="ms")
        res.add(f"{name} tree gone max", ms(stat([r["gone"] for r in results], "max")), unit="ms")
        res.add(
            f"{name} alive {CAP:g} s after cancel ({runs} runs x {len(ROLES)})",
            survivors,
            "0" if panel else "",
            survivors == 0 if panel else None,
            "processes",
        )
    res.print()
    print(f"\n(peers bench took {time.monotonic() - started:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
