"""Real processes for tests: a runworker and a Daphne on the test database."""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import psutil
from django.db import connection

from support.ports import free_game_port, free_port, wait_for_port, wait_until  # noqa: F401 (shared)

ROOT = Path(__file__).resolve().parent.parent
SIM_MARKER = "hostctl/sim"


def process_env(**extra):
    """The test process's environment, pointed at the test database Django is using."""
    env = dict(os.environ)
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
    else:
        host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
        env["DATABASE_URL"] = f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(*args, log_path=None, **env):
    """Start `manage.py runworker` as a real process; stderr goes to log_path (or a pipe)."""
    stderr = open(log_path, "wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "manage.py", "runworker", *args],
        cwd=ROOT,
        env=process_env(**env),
        stdout=stderr,
        stderr=stderr,
    )


@contextmanager
def running(proc, stop_signal=signal.SIGTERM, timeout=30):
    """Yield proc; on exit make sure it is gone (signal, then kill)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(stop_signal)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_daphne(port, **env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "l4d2site.asgi:application"],
        cwd=ROOT,
        env=process_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return proc


def start_web(port, processes=2, **env):
    """The web tier as `make run` starts it: scripts/web.py, `processes` Daphnes on one port."""
    proc = subprocess.Popen(
        [sys.executable, "scripts/web.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=process_env(L4D2_WEB_PROCESSES=processes, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc)
    return proc


def stop_gracefully(proc, grace=10):
    """SIGTERM (the worker drains), a second SIGTERM (the worker cancels its jobs), then SIGKILL."""
    if proc.poll() is not None:
        return
    for _ in range(2):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()


def sim_processes(root):
    """Processes our stack left behind: anything running from or in our HOSTCTL_ROOT, and any
    simulated steamcmd/srcds started with it (other test runs' simulators are left alone)."""
    root = str(root)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
            ours = root in cmdline or cwd.startswith(root)
            if not ours and SIM_MARKER in cmdline:
                ours = proc.environ().get("HOSTCTL_ROOT") == root
        except (psutil.Error, TypeError):
            continue
        if ours:
            found.append(proc)
    return found


def cmdline(proc):
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def kill_leftovers(root):
    """Kill whatever outlived its test; return a description of it so the test can fail."""
    leftovers = sim_processes(root)
    described = []
    for proc in leftovers:
        try:
            described.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(leftovers, timeout=5)
    return described
