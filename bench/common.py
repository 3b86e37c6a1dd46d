"""Shared helpers for the benches: a throwaway data dir, real processes, tables.

Every bench is a standalone script (`.venv/bin/python bench/<name>.py`). It calls
`setup()` first, which creates a temporary data dir, exports the environment the
panel reads (DESIGN.md §7), sets Django up in the bench process and migrates.
Processes started through `start_worker` / `start_daphne` are registered and
stopped (by pid, TERM then KILL) when the bench exits, whatever happens.

Job commands
------------
The benches need jobs that print N lines as fast as possible, a timestamped line
every 10 ms, or ignore SIGTERM and leave a setsid grandchild. `job_env()` points
the real worker's *install* job at `bench/fakesteamcmd.py` through the documented
setting HOSTCTL_STEAMCMD (with HOSTCTL_SIMULATE=0 and the platform workaround off,
so the worker runs exactly one steamcmd pass): the path a real steamcmd binary
takes. Everything else is the product's own: runworker claims the job,
l4d2.install -> run_command -> LogSink -> database, tails -> WebSocket.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

# BENCH_ROOT: run the product from another checkout (e.g. a snapshot while others edit).
ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parent.parent)
BENCH = Path(__file__).resolve().parent
PY = sys.executable
FAKE_STEAMCMD = BENCH / "fakesteamcmd.py"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

sys.path.insert(0, str(BENCH.parent))  # support/: helpers shared with the tests (never tests/ itself)
from support import ports  # noqa: E402
from support.ports import free_game_ports, free_port, wait_for_port  # noqa: E402,F401

_procs: list[subprocess.Popen] = []
_tmpdirs: list[str] = []
DATA: Path | None = None


# --- environment ----------------------------------------------------------------


def base_env(data_dir: Path, **extra) -> dict:
    env = dict(os.environ)
    for key in ("DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    env.update(
        L4D2_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="l4d2site.settings",
        DJANGO_HTTPS="0",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        HOSTCTL_SIMULATE="1",
        HOSTCTL_ROOT=str(data_dir / "servers"),
        HOSTCTL_STOP_GRACE="1",
        PYTHONUNBUFFERED="1",
        L4D2_LOG_LEVEL="WARNING",
        # A bench's hundreds of viewers stand for hundreds of people, logged in as one
        # owner: the per-user cap on live connections (socket_budget.py) would refuse them.
        L4D2_MAX_SOCKETS_PER_USER="0",
    )
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def job_env(**behaviour) -> dict:
    """Environment that makes a worker's `install` job run bench/fakesteamcmd.py.

    behaviour: BENCH_PRINT_LINES=N, BENCH_TICK_MS / BENCH_TICK_SECONDS,
    BENCH_IGNORE_TERM=1, BENCH_HOLD_SECONDS, BENCH_WAIT_GO=1 (see fakesteamcmd.py).
    THE switch point: once hostctl/sim/steamcmd.py has equivalent knobs, return
    {"HOSTCTL_SIMULATE": "1", <sim knobs>} here instead.
    """
    env = {
        "HOSTCTL_SIMULATE": "0",
        "HOSTCTL_STEAMCMD": str(FAKE_STEAMCMD),
        "HOSTCTL_PLATFORM_WORKAROUND": "0",
    }
    env.update({k: str(v) for k, v in behaviour.items()})
    return env


def setup(name: str, keep: bool = False, **extra):
    """Create the throwaway data dir, export the env, django.setup(), migrate."""
    global DATA
    DATA = Path(tempfile.mkdtemp(prefix=f"l4d2bench-{name}-"))
    _tmpdirs.append(str(DATA))
    if not (keep or os.environ.get("BENCH_KEEP")):
        atexit.register(lambda: shutil.rmtree(DATA, ignore_errors=True))
    env = base_env(DATA, **extra)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return DATA


def pg_database(name: str) -> str:
    """A throwaway PostgreSQL database on BENCH_PG_URL's server (dropped at exit); its URL."""
    import psycopg

    admin_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db = f"bench_{name}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')

    def drop():
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [db])
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')

    atexit.register(drop)
    return admin_url.rsplit("/", 1)[0] + f"/{db}"


# --- processes ----------------------------------------------------------------


def _register(proc):
    _procs.append(proc)
    return proc


def stop_proc(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in _procs:
        _procs.remove(proc)


def stop_all() -> None:
    for proc in list(_procs):
        stop_proc(proc)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def start_worker(*args, env: dict, log_name: str = "worker") -> subprocess.Popen:
    log = open(DATA / f"{log_name}.log", "ab")
    return _register(
        subprocess.Popen([PY, "manage.py", "runworker", *args], cwd=ROOT, env=env, stdout=log, stderr=log)
    )


def start_daphne(port: int, env: dict, log_name: str = "daphne", code: str | None = None) -> subprocess.Popen:
    """`python -m daphne` on 127.0.0.1:port; with `code`, `python -c code` instead (it must end by
    running daphne.cli.CommandLineInterface.entrypoint(), after whatever it changes first)."""
    log = open(DATA / f"{log_name}.log", "ab")
    launch = ["-c", code] if code else ["-m", "daphne"]
    proc = _register(
        subprocess.Popen(
            [PY, *launch, "-b", "127.0.0.1", "-p", str(port), "l4d2site.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    )
    wait_for_port(port, proc)
    return proc


def start_web(port: int, env: dict, log_name: str = "web", processes: int | None = None) -> subprocess.Popen:
    """The web tier as `make run` starts it: scripts/web.py, L4D2_WEB_PROCESSES Daphnes (default:
    one per core) on one port; returns once a page answers (the socket listens before them)."""
    log = open(DATA / f"{log_name}.log", "ab")
    if processes is not None:
        env = {**env, "L4D2_WEB_PROCESSES": str(processes)}
    argv = [PY, "scripts/web.py", "--host", "127.0.0.1", "--port", str(port)]
    proc = _register(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log))
    wait_for_port(port, proc)

    def answers():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/accounts/login/")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    wait_until(answers, timeout=60, interval=0.1)
    return proc


# free_port and wait_for_port are copies of tests/processes.py's: bench/ imports nothing from tests/.


def wait_until(predicate, timeout: float = 30, interval: float = 0.01):
    """support.ports.wait_until, polling every 10 ms: benches time what they wait for."""
    return ports.wait_until(predicate, timeout=timeout, interval=interval)


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- data -----------------------------------------------------------------------


def make_user(username="owner", staff=False):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user = User.objects.create_user(username, password="bench-password-1", is_staff=staff, is_superuser=staff)
    return user


def make_server(owner, port, name=None):
    from servers.models import Server

    return Server.objects.create(owner=owner, name=name or f"bench-{port}", port=port)


def session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Http:
    """A logged-in browser's POSTs to a real Daphne: session cookie, CSRF cookie + header, Origin.

    One keep-alive connection; a dropped one is opened again once per request. `post`
    returns the status; `location` is the last response's Location header (a redirect).
    """

    def __init__(self, port, sessionid, timeout=10):
        self.port = port
        self.timeout = timeout
        self.csrf = secrets.token_hex(16)  # 32 chars: Django accepts an unmasked secret
        self.cookie = f"sessionid={sessionid}; csrftoken={self.csrf}"
        self.location = ""
        self.conn = self._connect()

    def _connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def post(self, path, data=None):
        body = urllib.parse.urlencode(data or {}).encode()
        headers = {
            "Cookie": self.cookie,
            "X-CSRFToken": self.csrf,
            "Origin": f"http://127.0.0.1:{self.port}",
            "Referer": f"http://127.0.0.1:{self.port}/",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
        }
        try:
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = self._connect()
            self.conn.request("POST", path, body=body, headers=headers)
            response = self.conn.getresponse()
        response.read()
        self.location = response.getheader("Location") or ""
        return response.status

    def close(self):
        self.conn.close()


# --- numbers and tables -----------------------------------------------------------


def pct(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values):
    return statistics.median(values) if values else float("nan")


def table(rows, headers, left=1) -> str:
    cells = [[str(c) for c in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = (
            c.rjust(w) if i >= left else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append("  ".join(padded))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value):
    if isinstance(value, float):
        if value != value:
            return "n/a"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def setup_with_owner(name: str, **extra):
    """setup(), then the bench's Results, an owner and that owner's session cookie."""
    setup(name, **extra)
    user = make_user("owner")
    return Results(name), user, session_cookie(user)


class Results:
    """Collects (metric, value, target, ok) for the combined table of run_all.py."""

    def __init__(self, bench: str):
        self.bench = bench
        self.rows = []

    def add(self, metric, value, target="", ok=None, unit=""):
        self.rows.append(
            {"bench": self.bench, "metric": metric, "value": value, "unit": unit, "target": target, "ok": ok}
        )

    def print(self):
        rows = [
            (
                r["metric"],
                r["value"],
                r["unit"],
                r["target"],
                "" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL"),
            )
            for r in self.rows
        ]
        print(table(rows, ("metric", "value", "unit", "target", "result")))

    def dump(self, argv=None):
        argv = sys.argv if argv is None else argv
        if "--json" in argv:
            path = argv[argv.index("--json") + 1]
            Path(path).write_text(json.dumps(self.rows, default=str, indent=1))


def machine() -> dict:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import psutil

    return {
        "cpu": model,
        "cores": f"{psutil.cpu_count(logical=False)} physical / {psutil.cpu_count()} logical",
        "ram": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": platform.platform(),
    }


def attach():
    """In a child process started with a bench's env: just set Django up."""
    global DATA
    DATA = Path(os.environ["L4D2_DATA_DIR"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return DATA
