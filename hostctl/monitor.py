"""What the supervisor asks of the host about its servers: processes, exits, resource use.

- `check`: is the server installed, and is the process its pid file names alive
  (pid + creation time, so a reused pid is never taken for the server)? A pid
  file whose process is gone means it died without being stopped: a clean stop
  removes the pid file. The exit status is known only if this process launched it.
- `forget`: after a death has been recorded, remove the pid file, unless a new
  server has been started meanwhile.
- `usage`: CPU seconds and resident memory of each server's whole process tree,
  from one scan of the process table for all servers.
- `on_exit` / `off_exit`: be called the moment a server this process launched exits.
A2S queries are in a2s.py, crash classification and console tails in crash.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from hostctl import exits, srcds
from hostctl.spec import ServerSpec

on_exit = exits.subscribe
off_exit = exits.unsubscribe

NOT_INSTALLED = "not_installed"
STOPPED = "stopped"  # installed, no pid file: never started, or stopped cleanly
ALIVE = "alive"
DEAD = "dead"  # the pid file names a process that is gone: it died on its own


@dataclass(frozen=True)
class ProcessCheck:
    state: str  # NOT_INSTALLED | STOPPED | ALIVE | DEAD
    pid: int | None = None
    started: float | None = None  # the process's creation time (epoch seconds), when ALIVE
    exit_status: int | None = None  # when DEAD and this process launched (and reaped) it
    exited_at: float | None = None


def check(spec: ServerSpec) -> ProcessCheck:
    files = srcds.files_for(spec)
    if not files.srcds_run.exists():
        return ProcessCheck(NOT_INSTALLED)
    named = srcds.read_pid_file(files)
    if named is None:
        return ProcessCheck(STOPPED)
    pid, created = named
    proc = srcds.running(files)
    if proc is not None:
        return ProcessCheck(ALIVE, pid=pid, started=created)
    ended = exits.last_exit(files.install_dir, pid, wait=1.0)
    if ended is None:
        return ProcessCheck(DEAD, pid=pid)
    return ProcessCheck(DEAD, pid=pid, exit_status=ended.status, exited_at=ended.at)


def forget(spec: ServerSpec, pid: int) -> bool:
    """Remove the pid file of dead server process `pid`; False if it names something else now."""
    files = srcds.files_for(spec)
    named = srcds.read_pid_file(files)
    if named is None or named[0] != pid or srcds.running(files) is not None:
        return False
    files.pid.unlink(missing_ok=True)
    return True


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float  # user + system time of the whole tree so far
    rss: int  # resident memory of the whole tree, bytes


def usage(pids: Iterable[int]) -> dict[int, Usage]:
    """Usage of the process tree under each pid (pids that are gone are left out).

    One pass over the process table serves every tree, so 100 servers cost one
    scan, not 100 (psutil's children() rescans the whole table on each call).
    """
    wanted = set(pids)
    if not wanted:
        return {}
    children: dict[int, list[int]] = defaultdict(list)
    own: dict[int, Usage] = {}
    for proc in psutil.process_iter(["ppid", "cpu_times", "memory_info"], ad_value=None):
        info = proc.info
        children[info["ppid"]].append(proc.pid)
        times, memory = info["cpu_times"], info["memory_info"]
        own[proc.pid] = Usage((times.user + times.system) if times else 0.0, memory.rss if memory else 0)
    result = {}
    for root in wanted:
        if root not in own:
            continue
        cpu, rss, stack, seen = 0.0, 0, [root], set()
        while stack:
            pid = stack.pop()
            if pid in seen or pid not in own:
                continue
            seen.add(pid)
            cpu += own[pid].cpu_seconds
            rss += own[pid].rss
            stack.extend(children.get(pid, ()))
        result[root] = Usage(cpu, rss)
    return result
