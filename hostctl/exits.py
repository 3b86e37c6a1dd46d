"""The moment a server this process launched exits, and how it ended.

Only a parent learns its child's exit status (a segfault is death by SIGSEGV,
`-11`), and only by reaping it. So each launched srcds gets a waiter thread that
blocks in `wait()`: the child is reaped at once (never a zombie), its exit is
remembered per install dir, and every subscriber (the supervisor) hears of it
the moment it happens instead of a poll later. A server started by another
process (the worker restarted since) has no waiter here: its exit status is lost.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exit:
    install_dir: Path
    pid: int
    status: int  # Popen.returncode: -N for death by signal N
    at: float  # time.time() when it was reaped


Subscriber = Callable[[Exit], None]

_lock = threading.Lock()
_subscribers: list[Subscriber] = []
_last: dict[Path, Exit] = {}
_reaping: dict[tuple[Path, int], threading.Event] = {}  # launched and not yet reaped


def subscribe(callback: Subscriber) -> None:
    """Call `callback(exit)` (in the waiter's thread: keep it short) for every exit from now on."""
    with _lock:
        _subscribers.append(callback)


def unsubscribe(callback: Subscriber) -> None:
    with _lock:
        if callback in _subscribers:
            _subscribers.remove(callback)


def last_exit(install_dir: Path, pid: int, wait: float = 0.0) -> Exit | None:
    """How process `pid` of the server in `install_dir` ended, if this process reaped it.

    A server that has just died can look dead (a zombie) a moment before its waiter
    reaps it: with `wait`, a process of ours still being reaped is waited for that long,
    so its exit status is not lost to a look that came a millisecond early.
    """
    key = (Path(install_dir), pid)
    with _lock:
        reaping = _reaping.get(key)
    if reaping is not None:
        reaping.wait(wait)
    with _lock:
        found = _last.get(key[0])
    return found if found is not None and found.pid == pid else None


def watch(proc: subprocess.Popen, install_dir: Path, on_reaped: Callable[[int], None]) -> None:
    """Reap `proc` the moment it exits; then `on_reaped(pid)`, then tell the subscribers."""
    with _lock:
        _reaping[(Path(install_dir), proc.pid)] = threading.Event()
    threading.Thread(
        target=_wait, args=(proc, Path(install_dir), on_reaped), name=f"srcds-{proc.pid}", daemon=True
    ).start()


def _wait(proc: subprocess.Popen, install_dir: Path, on_reaped: Callable[[int], None]) -> None:
    status = proc.wait()
    on_reaped(proc.pid)
    event = Exit(install_dir, proc.pid, status, time.time())
    with _lock:
        _last[install_dir] = event
        subscribers = list(_subscribers)
        reaped = _reaping.pop((install_dir, proc.pid), None)
    if reaped is not None:
        reaped.set()
    for callback in subscribers:
        try:
            callback(event)
        except Exception:
            log.exception("exit subscriber %r failed", callback)
