"""Stopping whole process trees: find descendants, signal them safely, TERM then KILL.

A tree is found three ways, because a process can leave it three ways:
- descendants of the child, listed while they are still descendants;
- the child's process group (a descendant that called setsid() leaves it);
- a *mark*: an environment variable every process of a run inherits (MARK_VAR), which
  stays when a daemon double-forks and is reparented, and survives our own restart.
A worker that is a child subreaper (`become_subreaper`) also keeps orphans as its
children instead of init's, and reaps the ones it did not start (`reap_adopted`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

import psutil

MARK_VAR = "HOSTCTL_MARK"
_PR_SET_CHILD_SUBREAPER = 36


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


def marked(mark: str) -> list[psutil.Process]:
    """Every live process of this user whose environment carries `mark`, wherever it is now.

    A cancel waits for this scan of the whole process table, so it reads each
    /proc/<pid>/environ as raw bytes (a tenth of the time psutil takes to parse them
    all into dicts) and asks psutil only about the few that match.
    """
    needle = f"\0{MARK_VAR}={mark}\0".encode()
    uid = os.getuid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                if needle not in b"\0" + environ.read():
                    continue
            proc = psutil.Process(int(name))
            if proc.uids().real == uid and alive(proc):
                found.append(proc)
        except (OSError, psutil.Error):
            continue  # gone meanwhile, or not ours to read
    return found


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children, not init's (Linux 3.4+).

    Then a daemon that double-forks away from a job is still ours to find and to
    reap. Returns False where the kernel refuses (not Linux).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


# Children this process started with Popen (which reaps them itself); every other
# zombie child is an orphan we adopted as a subreaper and must reap.
_own_lock = threading.Lock()
_own: set[int] = set()


@contextmanager
def spawning() -> Iterator[Callable[[int], None]]:
    """Hold while starting a child: yields `own(pid)`, so `reap_adopted` never takes it."""
    with _own_lock:
        yield _own.add


def disown(pid: int) -> None:
    """The child `pid` was reaped by its Popen: forget it."""
    with _own_lock:
        _own.discard(pid)


def reap_adopted() -> int:
    """Reap zombie children that no Popen of ours will; returns how many."""
    reaped = 0
    with _own_lock:
        for child in psutil.Process().children():
            try:
                if child.pid not in _own and child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)
                    reaped += 1
            except (psutil.Error, ChildProcessError):
                continue
    return reaped


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
    tracked: Iterable[psutil.Process] | Callable[[], Iterable[psutil.Process]] = (),
) -> None:
    """Stop the process `pid` (a process group leader) and everything it started.

    SIGTERM goes to the group and to known descendants outside it; after up to
    `grace` seconds whatever is left gets SIGKILL. `wait_exit(timeout)` waits for
    `pid` itself and says whether it is gone: only the caller knows whether it
    may reap it (its own child) or must just watch it. `tracked` names more of its
    processes, or is a function that finds them: called once the group has its
    SIGTERM, since finding can be slow (a scan of every process for a mark) and
    most trees are all in the group.
    """
    # List descendants before signalling: once a parent dies its children are
    # reparented and can no longer be found from `pid`.
    procs = descendants(pid)
    _signal_group(pid, signal.SIGTERM)
    procs = merge(tracked() if callable(tracked) else tracked, procs)
    outside = [p for p in procs if pgid_of(p) not in (pid, None)]
    for proc in outside:
        _signal(proc, signal.SIGTERM)
    extra = f" and {len(outside)} processes outside it" if outside else ""
    notify(f"{reason}: sent SIGTERM to the process group{extra} at {_clock()}")

    deadline = time.monotonic() + grace
    root_gone = wait_exit(grace)
    pause = 0.001  # the rest of a tree usually dies within milliseconds of its root
    while root_gone and any(alive(p) for p in procs) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    if root_gone and not any(alive(p) for p in procs):
        return
    procs = merge(procs, descendants(pid))
    count = kill_tree(pid, procs) + (0 if root_gone else 1)
    notify(f"Grace period {grace:g}s expired: sent SIGKILL to {count} processes")
    wait_exit(1.0)
