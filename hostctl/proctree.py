"""Stopping whole process trees: find descendants, signal them safely, TERM then KILL."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import psutil


def alive(proc: psutil.Process) -> bool:
    """True if `proc` is still the same running process (a zombie is dead)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def merge(*groups: Iterable[psutil.Process]) -> list[psutil.Process]:
    # psutil.Process hashes on pid + creation time, so a reused pid stays distinct.
    return list(dict.fromkeys(p for group in groups for p in group))


def pgid_of(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except OSError:
        return None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)  # psutil refuses if the pid was reused
    except psutil.Error:
        pass


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


def kill_tree(pgid: int, procs: Iterable[psutil.Process]) -> int:
    """SIGKILL process group `pgid` and every process in `procs`.

    `procs` matters for descendants that called setsid() (they left the group)
    and for ones already reparented to init. Returns how many of `procs` were
    alive when killed; waits (up to 1 s) until they are gone.
    """
    victims = [p for p in procs if alive(p)]
    _signal_group(pgid, signal.SIGKILL)
    for proc in victims:
        _signal(proc, signal.SIGKILL)
    # kill() returns before the target has died; callers rely on it being gone.
    deadline = time.monotonic() + 1
    while any(alive(p) for p in victims) and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(victims)


def terminate_tree(
    pid: int,
    *,
    grace: float,
    notify: Callable[[str], None],
    reason: str,
    wait_exit: Callable[[float], bool],
    tracked: Iterable[psutil.Process] = (),
) -> None:
    """Stop the process `pid` (a process group leader) and everything it started.

    SIGTERM goes to the group and to known descendants outside it; after up to
    `grace` seconds whatever is left gets SIGKILL. `wait_exit(timeout)` waits for
    `pid` itself and says whether it is gone: only the caller knows whether it
    may reap it (its own child) or must just watch it.
    """
    # List descendants before signalling: once a parent dies its children are
    # reparented to init and can no longer be found from `pid`.
    procs = merge(tracked, descendants(pid))
    outside = [p for p in procs if pgid_of(p) not in (pid, None)]
    _signal_group(pid, signal.SIGTERM)
    for proc in outside:
        _signal(proc, signal.SIGTERM)
    extra = f" and {len(outside)} descendants outside it" if outside else ""
    notify(f"{reason}: sent SIGTERM to process group {pid}{extra} at {_clock()}")

    deadline = time.monotonic() + grace
    root_gone = wait_exit(grace)
    while root_gone and any(alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(0.02)
    if root_gone and not any(alive(p) for p in procs):
        return
    procs = merge(procs, descendants(pid))
    count = kill_tree(pid, procs) + (0 if root_gone else 1)
    notify(f"Grace period {grace:g}s expired: sent SIGKILL to {count} processes")
    wait_exit(1.0)
