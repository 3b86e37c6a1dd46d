"""Chaos: the panel on a private PostgreSQL and Redis that are restarted at random under load.

    .venv/bin/python bench/chaos.py [--minutes 2] [--servers 2] [--seed 1] [--depth 3]
                                    [--chaos pg,redis,worker,daphne] [--job-timeout 30]
                                    [--keep] [--json out.json]

Reproduces the measurement of the "update left running forever" issue from outside:

1. A private PostgreSQL (initdb + pg_ctl on a throwaway data dir, a free port on
   127.0.0.1, trust auth, run as the `postgres` system user when we are root) and a
   private `redis-server` on a free port. The system's PostgreSQL (5432) and Redis
   (6379) are never touched.
2. The panel on them: migrate, two owners, --servers simulated servers
   (HOSTCTL_SIMULATE=1, HOSTCTL_SIM_SECONDS=2, L4D2_WARNING_SECONDS=3), one
   Daphne and one `manage.py runworker`, each in a session of its own, stderr in
   log files. Both are started again after a SIGKILL (by the chaos) or any other
   exit (2 s later, like systemd's Restart=on-failure, RestartSec=2).
3. For --minutes: the load installs every server once (before the chaos), then keeps
   up to --depth jobs queued or running per server (start, update, restart, stop,
   at random; now and then an update is cancelled) through the panel's real HTTP
   endpoints (session cookie + CSRF, `POST /servers/<id>/jobs`, `POST /jobs/<id>/cancel`)
   and sends `status` / `say chaos-<n>` to the consoles (`POST /servers/<id>/console`).
   Meanwhile the chaos: `pg_ctl restart -m immediate` every 4-8 s, Redis SIGKILLed
   and started again every 20-40 s, the worker and Daphne each SIGKILLed every
   25-50 s and started again 0.5-3 s later.
4. Then the chaos stops (everything is up again), the load stops, and the panel gets
   60 s + L4D2_NODE_JOB_TIMEOUT_SECONDS (--job-timeout) to finish its queue and
   bring every server to its desired state. The checks, each PASS/FAIL with numbers:
   nothing stuck (queued/running/cancelling), and no job unfinished more than 10 s
   after its log's closing line (a job stuck until a later worker kill happened to free
   it through the new worker's recovery counts too); every job's log is seq 1..N; every
   finished job has finished_at and says how it ended; no job ran twice (one opening
   line, one closing line, one "claimed job N" in the worker logs, no two jobs of one
   server overlapping); no line stored after its job finished; every job the panel
   acknowledged exists; console lines gap-free per server and no command shown twice;
   each server's state is its desired state (from the database and from outside:
   the srcds process and an A2S answer); no job process left running; no owner-visible
   line (job logs, consoles) shows a database error, connection string or address.
5. Whatever happens (an exception, Ctrl-C, SIGTERM, the hard deadline), every process
   it started is stopped: worker, Daphne, the srcds/steamcmd simulators the worker
   started (found by the run's temp dir), PostgreSQL and Redis; the temp dir is
   removed (--keep keeps it, with worker.log, daphne.log, pg/pg.log, redis.log). A run
   that was itself SIGKILLed is cleaned up by the next run (its dir names a dead pid).

Deterministic with --seed: the chaos timeline (what happens when) and the sequences of
job kinds and console commands come from the seed; what the panel does in between
does not. Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import glob
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PREFIX = "l4d2chaos-"
KINDS = {"start": 3, "update": 3, "restart": 2, "stop": 2}  # the load's mix, by weight
RESTART_SEC = 2.0  # systemd's RestartSec in deploy/*.service
STUCK_AFTER = (
    10.0  # seconds a job may stay unfinished after its closing line (a database restart takes < 1 s)
)
ACTIVE = ("queued", "running", "cancelling")
FINISHED = ("succeeded", "failed", "cancelled")


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def pg_bin():
    """The newest /usr/lib/postgresql/<v>/bin (BENCH_PG_BIN overrides)."""
    if os.environ.get("BENCH_PG_BIN"):
        return Path(os.environ["BENCH_PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        sys.exit("chaos: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); set BENCH_PG_BIN")
    return Path(found[-1]).parent


def as_postgres():
    """The argv prefix that runs a PostgreSQL binary: initdb refuses root, so root uses `postgres`."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"], entry
    sys.exit("chaos: running as root, and there is no `postgres` (or `nobody`) user to run PostgreSQL as")


# --- cleaning up: ours, found by the run's directory --------------------------------------


def processes_of(base: str, exclude=()):
    """Every process that belongs to the run in `base`: its argv, cwd or L4D2_DATA_DIR is in there."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        if proc.pid == me or proc.pid in exclude:
            continue
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
            ours = base in cmdline or cwd == base or cwd.startswith(base + "/")
            if not ours:
                ours = proc.environ().get("L4D2_DATA_DIR", "").startswith(base + "/")
        except (psutil.Error, TypeError):
            continue
        if ours:
            found.append(proc)
    return found


def kill_all(procs):
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def stop_postgres(base: Path, timeout=30):
    data = base / "pg" / "data"
    if not (data / "postmaster.pid").exists():
        return
    prefix, _ = as_postgres()
    try:
        subprocess.run(
            [*prefix, str(pg_bin() / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w", "-t", "20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )
    except (subprocess.SubprocessError, OSError):
        pass
    try:  # whatever pg_ctl could not stop: the postmaster named by its pid file, if it is ours
        pid = int((data / "postmaster.pid").read_text().split()[0])
        proc = psutil.Process(pid)
        if str(data) in " ".join(proc.cmdline()):
            proc.kill()
    except (OSError, ValueError, IndexError, psutil.Error):
        pass


def reap_stale_runs():
    """Runs of this bench that were SIGKILLed left PostgreSQL (and maybe more) behind: end them."""
    for owner in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*", "owner.pid")):
        base = Path(owner).parent
        try:
            pid = int(Path(owner).read_text())
            if psutil.pid_exists(pid) and "chaos.py" in " ".join(psutil.Process(pid).cmdline()):
                continue  # a run in progress
        except (OSError, ValueError, psutil.Error):
            pass
        say(f"cleaning up after an earlier run that did not finish: {base}")
        stop_postgres(base)
        kill_all(processes_of(str(base)))
        shutil.rmtree(base, ignore_errors=True)


# --- the services -----------------------------------------------------------------------


class Service:
    """A process we run like systemd would: started, SIGKILLed on purpose, restarted when it dies."""

    def __init__(self, name, argv, env, log_path, cwd, port=None):
        self.name, self.argv, self.env = name, argv, env
        self.log_path, self.cwd, self.port = log_path, cwd, port
        self.proc = None
        self.lock = threading.RLock()
        self.down_on_purpose = True
        self.starts = 0
        self.kills = 0
        self.own_exits = []  # (seconds into the run, return code): exits the chaos did not cause
        self.restart_at = None

    def start(self, wait=True):
        with self.lock:
            with open(self.log_path, "ab") as log:
                log.write(
                    f"\n===== chaos: {self.name} start #{self.starts + 1} at {time.ctime()} =====\n".encode()
                )
                log.flush()
                self.proc = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=log, start_new_session=True
                )
            self.starts += 1
            self.down_on_purpose = False
            self.restart_at = None
            proc = self.proc
        if wait and self.port:
            try:
                common.wait_for_port(self.port, proc, timeout=30)
            except (RuntimeError, TimeoutError) as exc:
                say(f"{self.name} did not come up: {exc}")

    def kill(self):
        """SIGKILL, on purpose (the chaos)."""
        with self.lock:
            self.down_on_purpose = True
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.kills += 1
            if self.proc is not None:
                self.proc.wait()

    def stop(self, grace=10.0):
        with self.lock:
            self.down_on_purpose = True
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def watch(self, elapsed):
        """systemd's part: a process that exited on its own is started again RESTART_SEC later."""
        with self.lock:
            if self.down_on_purpose or self.proc is None:
                return
            code = self.proc.poll()
            if code is None:
                return
            now = time.monotonic()
            if self.restart_at is None:
                self.own_exits.append((round(elapsed), code))
                say(f"{self.name} exited by itself (code {code}); starting it again in {RESTART_SEC:g} s")
                self.restart_at = now + RESTART_SEC
            elif now >= self.restart_at:
                self.start(wait=False)


class Postgres:
    def __init__(self, base: Path):
        self.dir = base / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "pg.log"
        self.port = common.free_port()
        self.prefix, self.user = as_postgres()
        self.bin = pg_bin()
        self.restarts = 0
        self.restart_failures = 0
        self.restart_seconds = []

    def url(self, db="l4d2"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def _ctl(self, *args, timeout=90):
        # No -l: the postmaster inherits this file (opened by us, so its owner does not matter).
        with open(self.log, "ab") as log:
            return subprocess.run(
                [*self.prefix, str(self.bin / "pg_ctl"), *args, "-D", str(self.data)],
                stdout=log,
                stderr=log,
                timeout=timeout,
            ).returncode

    def init(self):
        self.dir.mkdir()
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        subprocess.run(
            [*self.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
            + ["-E", "UTF8", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            # fsync off is safe here: -m immediate kills processes, never the OS, so written
            # data stays in the page cache. synchronous_commit stays on: a commit the panel
            # was told about must survive the restart.
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\nfsync = off\n"
            )
        if self._ctl("start", "-w", "-t", "60") != 0:
            raise RuntimeError(f"PostgreSQL did not start; see {self.log}")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE l4d2")

    def restart_immediate(self):
        t0 = time.monotonic()
        try:
            code = self._ctl("restart", "-m", "immediate", "-w", "-t", "60")
        except subprocess.TimeoutExpired:
            code = "timeout"
        self.restarts += 1
        self.restart_seconds.append(time.monotonic() - t0)
        if code != 0:
            self.restart_failures += 1
            say(f"pg_ctl restart failed ({code}); starting it")
            self.ensure_up()

    def ready(self):
        try:
            import psycopg

            with psycopg.connect(self.url("postgres"), connect_timeout=3):
                return True
        except Exception:
            return False

    def ensure_up(self):
        if not self.ready():
            self._ctl("start", "-w", "-t", "60")


# --- the run -------------------------------------------------------------------------------


class Run:
    def __init__(self, args):
        self.args = args
        self.stop_event = threading.Event()  # load and chaos stop
        self.cleaned = False
        self.base = None
        self.services = {}
        self.pg = None
        self.started = time.monotonic()
        self.events = collections.Counter()
        self.jobs_http = collections.Counter()
        self.cancel_http = collections.Counter()
        self.console_http = collections.Counter()
        self.acknowledged = {}  # job id -> kind, from the enqueue redirects
        self.kinds_sent = collections.Counter()
        self.says_sent = 0
        self.threads = []
        self.errors = []

    def elapsed(self):
        return time.monotonic() - self.started

    # --- setup ---------------------------------------------------------------------------

    def setup(self):
        reap_stale_runs()
        self.base = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
        os.chmod(self.base, 0o755)  # the postgres user must reach its directory in here
        (self.base / "owner.pid").write_text(str(os.getpid()))
        say(f"run directory {self.base}")

        self.pg = Postgres(self.base)
        self.pg.init()
        say(f"private PostgreSQL on 127.0.0.1:{self.pg.port} ({self.pg.bin})")

        redis_dir = self.base / "redis"
        redis_dir.mkdir()
        redis_port = common.free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.services["redis"] = Service(
            "redis",
            [
                "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            + ["--dir", str(redis_dir), "--daemonize", "no"],
            dict(os.environ),
            self.base / "redis.log",
            redis_dir,
            port=redis_port,
        )
        self.services["redis"].start()
        say(f"private Redis on 127.0.0.1:{redis_port}")

        data = self.base / "data"
        data.mkdir(mode=0o700)
        self.data = data
        self.hostctl_root = data / "servers"
        env = common.base_env(
            data,
            DATABASE_URL=self.pg.url(),
            REDIS_URL=self.redis_url,
            DJANGO_SECRET_KEY="chaos-bench-not-secret",
            HOSTCTL_SIM_SECONDS=self.args.sim_seconds,
            HOSTCTL_SERVER_SCOPE="off",
            L4D2_WARNING_SECONDS=self.args.warning_seconds,
            L4D2_NODE_JOB_TIMEOUT_SECONDS=self.args.job_timeout,
            L4D2_MONITOR_SECONDS=2,
        )
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, str(common.ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)

        owners = [common.make_user(f"owner-{i + 1}") for i in range(2)]
        ports = set()
        self.servers = []
        for i in range(self.args.servers):
            while (port := common.ports.free_game_port()) in ports:
                pass
            ports.add(port)
            owner = owners[i % len(owners)]
            self.servers.append(common.make_server(owner, port, name=f"chaos-{i + 1}"))
        self.sessions = {owner.id: common.session_cookie(owner) for owner in owners}

        self.web_port = common.free_port()
        self.services["daphne"] = Service(
            "daphne",
            [
                common.PY,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.web_port),
                "l4d2site.asgi:application",
            ],
            env,
            self.base / "daphne.log",
            common.ROOT,
            port=self.web_port,
        )
        worker_env = dict(env, L4D2_LOG_LEVEL="INFO")  # "claimed job N" lines: the run-twice check reads them
        concurrency = str(max(2, self.args.servers))
        self.services["worker"] = Service(
            "worker",
            [common.PY, "manage.py", "runworker", "--concurrency", concurrency, "--poll", "1"],
            worker_env,
            self.base / "worker.log",
            common.ROOT,
        )
        self.services["daphne"].start()
        self.services["worker"].start()
        say(f"Daphne on 127.0.0.1:{self.web_port}, worker started; {len(self.servers)} servers")

    def http_for(self, server):
        return common.Http(self.web_port, self.sessions[server.owner_id])

    def install(self):
        """Every server installed once, before the chaos (install is refused while a server runs)."""
        from jobs.models import Job

        for server in self.servers:
            web = self.http_for(server)
            status = web.post(f"/servers/{server.id}/jobs", {"kind": "install"})
            if status != 302 or job_of(web.location) is None:
                raise RuntimeError(
                    f"enqueueing the install of server {server.id} answered {status} {web.location}"
                )
            self.acknowledged[job_of(web.location)] = "install"
            self.kinds_sent["install"] += 1
            web.close()
        try:
            common.ports.wait_until(
                lambda: not Job.objects.filter(state__in=ACTIVE).exists(), timeout=120, interval=0.5
            )
        except TimeoutError:
            raise RuntimeError("the installs did not finish within 120 s") from None
        states = dict(Job.objects.values_list("server_id", "state"))
        say(f"installed: {states}")

    # --- load -----------------------------------------------------------------------------

    def db(self, fn, default=None):
        """An ORM call from a load thread: the database may be restarting; then `default`."""
        from django.db import Error, connection

        try:
            return fn()
        except Error:
            connection.close()
            return default

    def post(self, web, counter, path, data=None):
        try:
            status = web.post(path, data)
        except Exception as exc:
            status = f"no answer ({type(exc).__name__})"
        counter[status] += 1
        return status

    def load_jobs(self):
        from django.db import connection

        from jobs.models import Job

        rng = random.Random(f"{self.args.seed}-jobs")
        webs = {s.id: self.http_for(s) for s in self.servers}
        kinds, weights = list(KINDS), list(KINDS.values())
        try:
            while not self.stop_event.is_set():
                for server in rng.sample(self.servers, len(self.servers)):
                    waiting = self.db(
                        lambda s=server: Job.objects.filter(server_id=s.id, state__in=ACTIVE).count()
                    )
                    if waiting is None or waiting >= self.args.depth:
                        continue
                    kind = rng.choices(kinds, weights)[0]
                    web = webs[server.id]
                    if self.post(web, self.jobs_http, f"/servers/{server.id}/jobs", {"kind": kind}) == 302:
                        job_id = job_of(web.location)
                        if job_id is None:
                            self.jobs_http[f"302 to {web.location[:40]}"] += 1
                            continue
                        if job_id not in self.acknowledged:
                            self.kinds_sent[kind] += 1
                        self.acknowledged[job_id] = kind
                if rng.random() < self.args.cancel_rate:
                    # Only updates: cancelling one never leaves a server off its desired state
                    # (README: a cancelled update of a running server starts it again).
                    updates = [j for j, k in self.acknowledged.items() if k == "update"]
                    live = self.db(
                        lambda u=updates: list(
                            Job.objects.filter(pk__in=u, state__in=("queued", "running")).values_list(
                                "id", "server_id"
                            )
                        ),
                        [],
                    )
                    if live:
                        job_id, server_id = rng.choice(sorted(live))
                        self.post(webs[server_id], self.cancel_http, f"/jobs/{job_id}/cancel")
                self.stop_event.wait(rng.uniform(0.5, 1.5))
        finally:
            connection.close()

    def load_console(self):
        from django.db import connection

        from servers.models import Server

        rng = random.Random(f"{self.args.seed}-console")
        webs = {s.id: self.http_for(s) for s in self.servers}
        running, checked = [], 0.0
        try:
            while not self.stop_event.is_set():
                if time.monotonic() - checked > 2:
                    checked = time.monotonic()
                    running = self.db(
                        lambda: list(
                            Server.objects.filter(actual_state="running")
                            .order_by("id")
                            .values_list("id", flat=True)
                        ),
                        running,
                    )
                server_id = rng.choice(running) if running else rng.choice(self.servers).id
                if rng.random() < 0.5:
                    command = "status"
                else:
                    self.says_sent += 1
                    command = f"say chaos-{self.says_sent}"
                self.post(
                    webs[server_id], self.console_http, f"/servers/{server_id}/console", {"command": command}
                )
                self.stop_event.wait(rng.uniform(0.3, 0.8))
        finally:
            connection.close()

    # --- chaos ----------------------------------------------------------------------------

    def timeline(self):
        """[(seconds into the chaos, what, downtime)], from the seed alone."""
        end = self.args.minutes * 60
        wanted = set(self.args.chaos.split(","))
        spec = {
            "pg": (4, 8, 0, 0),
            "redis": (20, 40, 1, 5),
            "worker": (25, 50, 0.5, 3),
            "daphne": (25, 50, 0.5, 3),
        }
        events = []
        for what, (lo, hi, down_lo, down_hi) in spec.items():
            if what not in wanted:
                continue
            # One generator per kind: a longer run starts with the same events as a shorter one.
            rng = random.Random(f"{self.args.seed}-chaos-{what}")
            t = rng.uniform(2, lo)
            while t < end:
                events.append((t, what, rng.uniform(down_lo, down_hi) if down_hi else 0.0))
                t += rng.uniform(lo, hi)
        return sorted(events)

    def chaos(self, t0):
        for at, what, down in self.timeline():
            if self.stop_event.wait(max(0.0, t0 + at - time.monotonic())):
                return
            self.events[what] += 1
            if what == "pg":
                self.pg.restart_immediate()
                continue
            service = self.services[what]
            service.kill()
            if self.stop_event.wait(down):
                service.start()
                return
            service.start()

    def systemd(self):
        while not self.cleaned:
            for service in list(self.services.values()):
                try:
                    service.watch(self.elapsed())
                except Exception as exc:  # never let the watcher die: restarts depend on it
                    say(f"watching {service.name}: {exc!r}")
            time.sleep(0.25)

    def thread(self, target, *args):
        def run():
            try:
                target(*args)
            except Exception:
                self.errors.append(traceback.format_exc())
                say(f"thread {target.__name__} failed:\n{traceback.format_exc()}")

        thread = threading.Thread(target=run, name=target.__name__, daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def run_chaos(self):
        minutes = self.args.minutes
        say(f"load and chaos for {minutes:g} min (seed {self.args.seed}; chaos: {self.args.chaos})")
        plan = self.timeline()
        planned = collections.Counter(what for _, what, _ in plan)
        first = ", ".join(f"{what}@{at:.1f}s" for at, what, _ in plan[:6])
        say(f"chaos plan from the seed: {dict(planned)}; first: {first}")
        t0 = time.monotonic()
        chaos = self.thread(self.chaos, t0)
        load = [self.thread(self.load_jobs), self.thread(self.load_console)]
        next_report = t0 + 30
        while time.monotonic() < t0 + minutes * 60:
            time.sleep(0.5)
            if time.monotonic() >= next_report:
                next_report += 30
                took = time.monotonic() - t0
                say(f"{took:.0f} s: chaos {dict(self.events)}, job POSTs {dict(self.jobs_http)}")
        self.stop_event.set()
        chaos.join(120)
        for thread in load:
            thread.join(30)
        # Everything up again, as an operator would leave it.
        self.pg.ensure_up()
        for service in self.services.values():
            if not service.alive():
                service.start()
        say(f"chaos over after {time.monotonic() - t0:.0f} s: {dict(self.events)}")

    # --- settle ---------------------------------------------------------------------------

    def settle(self):
        """Up to 60 s + the job timeout for the queue to empty and every server to reach its desired state."""
        from django.db import connection

        from jobs.models import Job

        budget = 60 + self.args.job_timeout
        t0 = time.monotonic()
        deadline = t0 + budget
        calm_since = None
        while time.monotonic() < deadline:
            time.sleep(1)
            busy = self.db(lambda: Job.objects.filter(state__in=ACTIVE).exists(), True)
            if busy:
                calm_since = None
                continue
            mismatched = self.db(lambda: [s for s in self.server_states() if not s["ok"]], ["?"])
            if mismatched:
                calm_since = None
                continue
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= 5:  # stays so for a supervisor pass or two
                break
        connection.close()
        self.settle_seconds = time.monotonic() - t0
        self.settle_budget = budget
        say(f"settled for {self.settle_seconds:.0f} s (budget {budget:g} s)")

    def srcds_of(self, server_id):
        install = str((self.hostctl_root / str(server_id)).resolve())
        found = []
        for proc in psutil.process_iter(["cmdline", "cwd"]):
            try:
                if proc.info["cwd"] == install and "srcds" in " ".join(proc.info["cmdline"] or []):
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        found.append(proc)
            except psutil.Error:
                pass
        return found

    def server_states(self):
        from hostctl.a2s import query_info
        from servers.models import Server

        states = []
        for server in Server.objects.order_by("id"):
            procs = self.srcds_of(server.id)
            answers = query_info(server.port, timeout=1.0) is not None
            if server.desired_state == "running":
                ok = server.actual_state == "running" and len(procs) == 1 and answers
            else:
                ok = server.actual_state == "stopped" and not procs and not answers
            states.append(
                {
                    "id": server.id,
                    "name": server.name,
                    "desired": server.desired_state,
                    "actual": server.actual_state,
                    "srcds": len(procs),
                    "a2s": answers,
                    "ok": ok,
                }
            )
        return states

    # --- checks ---------------------------------------------------------------------------

    def check(self):
        from django.db.models import Count, Max, Min
        from django.utils import timezone

        from jobs.models import Job, JobLog, WorkerProcess
        from jobs.recovery import identity_alive
        from servers.models import ConsoleCommand, ConsoleLine

        res = common.Results("chaos")
        evidence = []
        now = timezone.now()
        jobs = {j["id"]: j for j in Job.objects.order_by("id").values()}
        by_state = collections.Counter(j["state"] for j in jobs.values())

        res.add("minutes of chaos", self.args.minutes)
        res.add("seed", self.args.seed)
        res.add("pg_ctl restart -m immediate", self.pg.restarts, unit="times")
        if self.pg.restart_failures:
            res.add("  pg_ctl restarts that failed (then started)", self.pg.restart_failures)
        if self.pg.restart_seconds:
            res.add(
                "  restart took p50 / max",
                f"{common.median(self.pg.restart_seconds):.1f} / {max(self.pg.restart_seconds):.1f}",
                unit="s",
            )
        for name in ("redis", "worker", "daphne"):
            service = self.services[name]
            res.add(f"{name} SIGKILLed and started again", service.kills, unit="times")
            exits = service.own_exits
            res.add(f"{name} exits by itself (restarted after {RESTART_SEC:g} s)", len(exits))
            if exits:
                evidence.append(f"{name} exited by itself (s into the run, code): {exits[:10]}")
        res.add("jobs acknowledged (302 to /jobs/<id>)", len(self.acknowledged))
        res.add("  kinds", " ".join(f"{k}={v}" for k, v in sorted(self.kinds_sent.items())))
        res.add("job POST answers", _counts(self.jobs_http))
        res.add("cancel POST answers", _counts(self.cancel_http))
        res.add("console POST answers", _counts(self.console_http))
        res.add(
            "jobs in the database", len(jobs), unit=" ".join(f"{k}={v}" for k, v in sorted(by_state.items()))
        )
        res.add(f"settle (budget {self.settle_budget:g} s)", round(self.settle_seconds), unit="s")

        # 1. Nothing stuck.
        stuck = [j for j in jobs.values() if j["state"] in ACTIVE]
        res.add("jobs left queued/running/cancelling", len(stuck), "0", not stuck)
        beats = {w.identity: w.last_heartbeat for w in WorkerProcess.objects.all()}
        for job in stuck[:12]:
            claimer = job["claimed_by"]
            if claimer:
                beat = beats.get(claimer)
                age = f"{(now - beat).total_seconds():.0f} s ago" if beat else "no heartbeat row"
                who = f"claimed by {claimer} (process alive: {identity_alive(claimer)}, last heartbeat {age})"
            else:
                who = "never claimed"
            evidence.append(
                f"stuck job #{job['id']} {job['kind']} on server {job['server_id']}: {job['state']}, {who}, "
                f"started {job['started_at']}, updated {job['updated_at']}"
            )
            lines = list(
                JobLog.objects.filter(job_id=job["id"])
                .order_by("-seq")[:8]
                .values_list("seq", "stream", "line")
            )
            evidence.extend(
                f"    {seq} [{stream}] {_one_line(line)[:160]}" for seq, stream, line in reversed(lines)
            )
            evidence.extend(f"    worker.log: {line}" for line in self.worker_log_about(job["id"])[:20])

        # 1b. Stuck for a while, even if a later worker kill freed it: a job's row should be
        # finished moments after its log's closing line ("Finished with exit code ..."). A
        # job that stays running after it is stuck until some worker starts again (and its
        # recovery finishes the dead predecessor's jobs) or forever if none does.
        closed_at = dict(
            JobLog.objects.filter(stream="system", line__startswith="Finished with exit code ")
            .values("job_id")
            .annotate(at=Min("created_at"))
            .values_list("job_id", "at")
        )
        lag = {
            jid: ((jobs[jid]["finished_at"] or now) - at).total_seconds()
            for jid, at in closed_at.items()
            if jid in jobs
        }
        hung = sorted((jid for jid, secs in lag.items() if secs > STUCK_AFTER), key=lambda j: -lag[j])
        res.add(
            f"jobs still unfinished > {STUCK_AFTER:g} s after their log closed",
            len(hung),
            "0",
            not hung,
        )
        if lag:
            res.add(
                "  longest a job stayed unfinished after its log closed", round(max(lag.values())), unit="s"
            )
        for jid in hung[:8]:
            job = jobs[jid]
            last = JobLog.objects.filter(job_id=jid).order_by("-seq").values_list("line", flat=True).first()
            freed = (
                f"finished {lag[jid]:.0f} s later as {job['state']}"
                if job["finished_at"]
                else "never finished"
            )
            where = f"job #{jid} {job['kind']} on server {job['server_id']}"
            last = _one_line(last)[:140]
            evidence.append(f"{where}: log closed at {closed_at[jid]:%H:%M:%S}, {freed}; last line: {last}")
            died = [line[:200] for line in self.worker_log_about(jid) if "thread died" in line]
            evidence.extend(f"    worker.log: {line}" for line in died[:2])

        # 2. Log lines 1..N.
        shape = {
            row["job_id"]: row
            for row in JobLog.objects.values("job_id").annotate(n=Count("id"), lo=Min("seq"), hi=Max("seq"))
        }
        gaps = [jid for jid, row in shape.items() if row["lo"] != 1 or row["hi"] != row["n"]]
        res.add("jobs whose log is not seq 1..N", len(gaps), "0", not gaps)
        for jid in gaps[:5]:
            seqs = list(JobLog.objects.filter(job_id=jid).order_by("seq").values_list("seq", flat=True))
            evidence.append(f"job #{jid} log seqs: {_holes(seqs)}")
        silent = [j["id"] for j in jobs.values() if j["state"] in FINISHED and j["id"] not in shape]
        res.add("finished jobs without a single log line", len(silent), "0", not silent)

        # 3. Finished jobs: finished_at, and an outcome their log states.
        no_end = [j["id"] for j in jobs.values() if j["state"] in FINISHED and j["finished_at"] is None]
        res.add("finished jobs without finished_at", len(no_end), "0", not no_end)
        endings = self.endings()
        unexplained = [j["id"] for j in jobs.values() if j["state"] in FINISHED and not endings.get(j["id"])]
        res.add("finished jobs whose log does not say how they ended", len(unexplained), "0", not unexplained)
        for jid in unexplained[:5]:
            last = JobLog.objects.filter(job_id=jid).order_by("-seq").values_list("line", flat=True).first()
            evidence.append(f"job #{jid} ({jobs[jid]['state']}) ends with: {last!r}")
        wrong = [
            j["id"]
            for j in jobs.values()
            if (j["state"] == "succeeded" and j["exit_code"] != 0)
            or (j["state"] == "failed" and j["exit_code"] == 0)
        ]
        res.add("finished jobs whose state contradicts their exit code", len(wrong), "0", not wrong)
        abandoned = sum(1 for j in jobs.values() if j["state"] in FINISHED and j["exit_code"] is None)
        res.add("  finished by recovery (no exit code)", abandoned)

        # 4. Nothing ran twice.
        openings = _per_job(JobLog.objects.filter(stream="system", line__startswith="Running "))
        twice_opened = {jid: n for jid, n in openings.items() if n > 1}
        res.add(
            "jobs with more than one 'Running ...' opening line", len(twice_opened), "0", not twice_opened
        )
        closings = _per_job(
            JobLog.objects.filter(stream="system", line__startswith="Finished with exit code ")
        )
        twice_closed = {jid: n for jid, n in closings.items() if n > 1}
        res.add(
            "jobs with more than one 'Finished with exit code' line", len(twice_closed), "0", not twice_closed
        )
        claims = collections.Counter(int(m) for m in re.findall(r"claimed job (\d+)\b", self.worker_log()))
        twice_claimed = {jid: n for jid, n in claims.items() if n > 1}
        res.add("jobs claimed more than once (worker logs)", len(twice_claimed), "0", not twice_claimed)
        never_logged = [j["id"] for j in jobs.values() if j["started_at"] and j["id"] not in claims]
        res.add("  started jobs with no 'claimed job' line (log lost with a kill)", len(never_logged))
        overlaps = self.overlaps(jobs.values())
        res.add("jobs of one server running at the same time", len(overlaps), "0", not overlaps)
        for a, b in overlaps[:5]:
            evidence.append(
                f"server {a['server_id']}: job #{a['id']} ({a['started_at']} - {a['finished_at']}) "
                f"overlaps #{b['id']} (from {b['started_at']})"
            )
        for jid, n in list({**twice_opened, **twice_closed, **twice_claimed}.items())[:5]:
            evidence.append(f"job #{jid} ran (or was claimed) {n} times")
        late = []
        for job in jobs.values():
            if job["finished_at"] is None:
                continue
            last = shape.get(job["id"], {}).get("hi")
            if last is None:
                continue
            at = (
                JobLog.objects.filter(job_id=job["id"], seq=last).values_list("created_at", flat=True).first()
            )
            if at and (at - job["finished_at"]).total_seconds() > 2:
                late.append((job["id"], (at - job["finished_at"]).total_seconds()))
        res.add("jobs with lines stored > 2 s after they finished", len(late), "0", not late)
        for jid, secs in late[:5]:
            evidence.append(f"job #{jid}: last line stored {secs:.1f} s after finished_at")
        missing = sorted(set(self.acknowledged) - set(jobs))
        res.add("acknowledged jobs missing from the database", len(missing), "0", not missing)

        # 5. Consoles.
        console_rows = ConsoleLine.objects.values("server_id").annotate(
            n=Count("id"), lo=Min("seq"), hi=Max("seq")
        )
        console_gaps = [r for r in console_rows if r["lo"] != 1 or r["hi"] != r["n"]]
        total_lines = sum(r["n"] for r in console_rows)
        res.add("console lines stored", total_lines, unit=f"{len(console_rows)} servers")
        res.add("servers whose console is not seq 1..N", len(console_gaps), "0", not console_gaps)
        for row in console_gaps[:5]:
            seqs = list(
                ConsoleLine.objects.filter(server_id=row["server_id"])
                .order_by("seq")
                .values_list("seq", flat=True)
            )
            evidence.append(f"server {row['server_id']} console seqs: {_holes(seqs)}")
        shown = collections.Counter(
            m.group(1)
            for line in ConsoleLine.objects.filter(
                stream="command", line__contains="> say chaos-"
            ).values_list("line", flat=True)
            if (m := re.search(r"> say (chaos-\d+)$", line))
        )
        repeated = {text: n for text, n in shown.items() if n > 1}
        res.add("console commands shown more than once", len(repeated), "0", not repeated)
        outcomes = collections.Counter(ConsoleCommand.objects.values_list("outcome", flat=True))
        res.add("console commands stored", sum(outcomes.values()), unit=_counts(outcomes))
        undelivered = ConsoleLine.objects.filter(stream="system", line__startswith="Not delivered").count()
        res.add("  'Not delivered: the server's console is not open' lines", undelivered)
        unstored = max(0, self.console_http[302] - sum(outcomes.values()))
        res.add("console commands acknowledged (302) but not stored", unstored, "0", not unstored)

        # 6. States.
        states = self.server_states()
        off = [s for s in states if not s["ok"]]
        res.add("servers not in their desired state", f"{len(off)}/{len(states)}", "0", not off)
        for s in states:
            evidence.append(
                f"server {s['id']} {s['name']}: desired {s['desired']}, actual {s['actual']} (database), "
                f"srcds processes {s['srcds']}, A2S answers {s['a2s']}"
                + ("" if s["ok"] else "  <-- MISMATCH")
            )
            if not s["ok"]:
                for job in Job.objects.filter(server_id=s["id"]).order_by("-id")[:4]:
                    tail = list(
                        JobLog.objects.filter(job_id=job.id)
                        .order_by("-seq")[:3]
                        .values_list("line", flat=True)
                    )
                    evidence.append(
                        f"    job #{job.id} {job.kind} {job.state} exit {job.exit_code}: "
                        + " | ".join(_one_line(line)[:100] for line in reversed(tail))
                    )
        strays = [
            p
            for p in processes_of(str(self.hostctl_root))
            if "srcds" not in " ".join(_cmdline(p)) and p.pid != self.services["worker"].proc.pid
        ]
        res.add("job processes still running after settle", len(strays), "0", not strays)
        for proc in strays[:5]:
            evidence.append(f"stray process {proc.pid}: {' '.join(_cmdline(proc))[:200]}")

        # 7. What owners see.
        leaks = self.leaks()
        res.add("owner-visible lines with database errors/addresses", len(leaks), "0", not leaks)
        kinds = collections.Counter(kind for kind, _, _ in leaks)
        for kind, n in kinds.most_common():
            where, line = next((w, t) for k, w, t in leaks if k == kind)
            evidence.append(f"leak {kind!r} x{n}, e.g. {where}: {_one_line(line)[:220]}")

        if self.errors:
            res.add("bench threads that failed", len(self.errors), "0", False)
        return res, evidence

    def endings(self):
        """{job id: True} for jobs whose log states how they ended."""
        from django.db.models import Q

        from jobs.models import JobLog

        says = (
            Q(line__startswith="Finished with exit code ")
            | Q(line__contains="before execution")
            | Q(line__contains="stopped heartbeating")
            | Q(line__contains="stopped before it finished")
            # A job whose claim (or end) an outage swallowed, finished by its live worker's heartbeat.
            | Q(line__contains="worker is alive but was not running it")
        )
        return dict.fromkeys(JobLog.objects.filter(says).values_list("job_id", flat=True).distinct(), True)

    @staticmethod
    def overlaps(jobs):
        from django.utils import timezone

        now = timezone.now()
        found = []
        per_server = collections.defaultdict(list)
        for job in jobs:
            if job["started_at"]:
                per_server[job["server_id"]].append(job)
        for runs in per_server.values():
            runs.sort(key=lambda j: j["started_at"])
            for a, b in zip(runs, runs[1:], strict=False):
                if b["started_at"] < (a["finished_at"] or now):
                    found.append((a, b))
        return found

    def leaks(self):
        """(what, where, line) for every job log or console line that shows the database's insides."""
        from jobs.models import JobLog
        from servers.models import ConsoleLine

        redis_port = self.redis_url.rsplit(":", 1)[1].split("/")[0]
        patterns = {
            "OperationalError": r"OperationalError",
            "other database exception": r"\b(InterfaceError|DatabaseError|ProgrammingError|IntegrityError)\b",
            "psycopg": r"psycopg",
            "connection failed": r"connection (failed|to server at)",
            "PostgreSQL/psycopg message": r"database system is|server closed the connection|terminating "
            r"connection|the connection is (closed|lost)|consuming input failed",
            "database port": rf"\b{self.pg.port}\b",
            "Redis port": rf"\b{redis_port}\b",
            "connection string": r"\b(postgres|postgresql|redis)://",
            "Traceback": r"Traceback \(most recent call last\)",
        }
        compiled = {name: re.compile(p, re.IGNORECASE) for name, p in patterns.items()}
        found = []
        rows = [
            (f"job #{jid} line {seq}", line)
            for jid, seq, line in JobLog.objects.values_list("job_id", "seq", "line").iterator()
        ]
        rows += [
            (f"server {sid} console line {seq}", line)
            for sid, seq, line in ConsoleLine.objects.values_list("server_id", "seq", "line").iterator()
        ]
        for where, line in rows:
            for name, regex in compiled.items():
                if regex.search(line):
                    found.append((name, where, line))
        return found

    def worker_log(self):
        try:
            return (self.base / "worker.log").read_text(errors="replace")
        except OSError:
            return ""

    def worker_log_about(self, job_id):
        """The worker's log lines about one job; of each traceback, the product's frames and the errors."""
        out, in_traceback = [], False
        about = re.compile(rf"\bjob #?{job_id}\b")
        stamped = re.compile(r"^\d{4}-\d\d-\d\d ")
        ours = f'File "{common.ROOT}/'
        for line in self.worker_log().splitlines():
            if stamped.match(line):
                in_traceback = bool(about.search(line)) and "raised" in line
                if about.search(line):
                    out.append(line[:220])
            elif in_traceback:
                text = line.strip()
                if text.startswith(ours) and "/.venv/" not in text:
                    out.append("  " + text.replace(ours, 'File "')[:200])
                elif re.match(r"^[\w.]+(Error|Exception)\b", text):
                    out.append("  " + text[:200])
        return out

    # --- the end --------------------------------------------------------------------------

    def cleanup(self):
        if self.cleaned:
            return
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                signal.signal(sig, signal.SIG_IGN)
            except ValueError:
                pass  # not the main thread (the watchdog)
        self.stop_event.set()
        self.cleaned = True
        if self.base is None:
            return
        say("stopping everything this run started")
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        for name in ("worker", "daphne"):
            if name in self.services:
                self.services[name].stop(grace=5)
        kill_all(processes_of(str(self.base / "data")))  # srcds and steamcmd simulators, job leftovers
        if self.pg is not None:
            stop_postgres(self.base)
        if "redis" in self.services:
            self.services["redis"].stop(grace=5)
        left = processes_of(str(self.base))
        names = [f"{p.pid} {' '.join(_cmdline(p))[:60]}" for p in left]
        kill_all(left)
        if left:
            say(f"killed {len(left)} leftover process(es): {names}")
        if self.args.keep:
            say(f"kept {self.base} (worker.log, daphne.log, redis.log, pg/pg.log)")
            (self.base / "owner.pid").unlink(missing_ok=True)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


def _one_line(text):
    """A stored line as one line of output (some lines hold a multi-line exception message)."""
    return (text or "").replace("\r", "").replace("\n", " \u23ce ")


def job_of(location):
    """The job id of an enqueue's redirect (/jobs/<id>), or None."""
    match = re.search(r"/jobs/(\d+)/?$", location or "")
    return int(match.group(1)) if match else None


def _cmdline(proc):
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _per_job(queryset):
    from django.db.models import Count

    return {row["job_id"]: row["n"] for row in queryset.values("job_id").annotate(n=Count("id"))}


def _holes(seqs):
    """A short description of what is wrong with a seq list."""
    if not seqs:
        return "none"
    dupes = [s for s, n in collections.Counter(seqs).items() if n > 1]
    missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
    return f"1..{max(seqs)}: {len(seqs)} rows, missing {missing[:10]}, repeated {dupes[:10]}"


def _counts(counter):
    return " ".join(f"{k}={v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))) or "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the load and the chaos go on")
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--depth", type=int, default=3, help="jobs kept queued or running per server")
    parser.add_argument(
        "--cancel-rate", type=float, default=0.1, help="chance per load round to cancel an update"
    )
    parser.add_argument("--chaos", default="pg,redis,worker,daphne", help="what the chaos may hit")
    parser.add_argument("--job-timeout", type=float, default=30, help="L4D2_NODE_JOB_TIMEOUT_SECONDS")
    parser.add_argument("--sim-seconds", type=float, default=2, help="HOSTCTL_SIM_SECONDS")
    parser.add_argument("--warning-seconds", type=float, default=3, help="L4D2_WARNING_SECONDS")
    parser.add_argument("--keep", action="store_true", help="keep the run directory and its logs")
    parser.add_argument("--json", help="write the result rows here (as the other benches)")
    args = parser.parse_args()

    run = Run(args)
    atexit.register(run.cleanup)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    # The hard deadline: setup, the chaos, the settle budget, the checks, and some slack.
    limit = 180 + args.minutes * 60 + 60 + args.job_timeout + 180

    def expire():
        if run.cleaned:
            return
        say(f"hard deadline of {limit:.0f} s reached: cleaning up and exiting")
        run.cleanup()
        os._exit(3)

    watchdog = threading.Timer(limit, expire)
    watchdog.daemon = True
    watchdog.start()

    code = 1
    try:
        run.setup()
        run.thread(run.systemd)
        run.install()
        run.run_chaos()
        run.settle()
        res, evidence = run.check()
        print("\nEvidence\n--------")
        for line in evidence:
            print(line)
        print(f"\nChaos run: {args.minutes:g} min, {args.servers} servers, seed {args.seed}\n")
        for key, value in common.machine().items():
            print(f"{key:>7}: {value}")
        print()
        happened = [
            (r["metric"], f"{common._fmt(r['value'])} {r['unit']}".strip())
            for r in res.rows
            if r["ok"] is None
        ]
        print(common.table(happened, ("what happened", "value"), left=2))
        print()
        checks = [
            (r["metric"], r["value"], r["target"], "PASS" if r["ok"] else "FAIL")
            for r in res.rows
            if r["ok"] is not None
        ]
        print(common.table(checks, ("check", "value", "target", "result")))
        if args.json:
            res.dump(["--json", args.json])
        failed = [r for r in res.rows if r["ok"] is False]
        print(f"\n{sum(1 for r in res.rows if r['ok'])} checks passed, {len(failed)} failed")
        code = 1 if failed else 0
    except KeyboardInterrupt as exc:
        say(f"interrupted ({exc or 'SIGINT'})")
        code = 130
    except Exception:
        traceback.print_exc()
        code = 2
    finally:
        run.cleanup()
    sys.exit(code)


if __name__ == "__main__":
    main()
