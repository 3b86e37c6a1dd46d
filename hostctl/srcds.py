"""srcds internals: a server's files, its pid file and console, launching and killing it.

Files kept in the install dir, so any process on the host can find a server
started by another one (the worker may have restarted since):
- srcds.pid: pid and creation time of the running srcds_run (guards pid reuse)
- console.fifo: the server console; `stop` writes "quit" into it
- console.log: everything the server prints (console.py reads it; .1 is the one before)

Other local accounts read none of them: the directory is 0750, the files 0640 and the
FIFO 0600, whatever the umask, and older ones are tightened at the next start (modes.py).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import psutil

from hostctl import console, exits, modes
from hostctl.errors import HostError
from hostctl.process import LineSink
from hostctl.proctree import alive, disown, spawning, terminate_tree
from hostctl.spec import ServerSpec

# srcds processes this process started and that are still running. They are our
# children: each has a waiter thread (exits.watch) that reaps it the moment it exits.
_launched: dict[int, subprocess.Popen] = {}


class Files(NamedTuple):
    """Where one server's files are; all in its install dir, so any process on the host finds them."""

    install_dir: Path
    srcds_run: Path
    pid: Path
    fifo: Path
    log: Path
    cfg_dir: Path


def files_for(spec: ServerSpec) -> Files:
    root = Path(spec.install_dir).resolve()
    return Files(
        install_dir=root,
        srcds_run=root / "srcds_run",
        pid=root / "srcds.pid",
        fifo=root / "console.fifo",
        log=root / "console.log",
        cfg_dir=root / "left4dead2" / "cfg",
    )


def read_pid_file(files: Files) -> tuple[int, float] | None:
    """(pid, creation time) from the pid file; None if there is none (or it is unreadable)."""
    try:
        pid_text, created_text = files.pid.read_text().split()
        return int(pid_text), float(created_text)
    except (OSError, ValueError):
        return None


def running(files: Files) -> psutil.Process | None:
    """The server process named by the pid file, if it is still that process."""
    named = read_pid_file(files)
    if named is None:
        return None
    try:
        proc = psutil.Process(named[0])
        if proc.create_time() != named[1]:
            return None  # the pid now belongs to another process
        if not any("srcds" in part for part in proc.cmdline()):
            return None
    except psutil.Error:
        return None
    return proc if alive(proc) else None


def reap_launched() -> None:
    """Reap the servers this process started that have exited."""
    for pid, proc in list(_launched.items()):
        try:
            still_running = alive(psutil.Process(pid))
        except psutil.NoSuchProcess:
            still_running = False
        try:
            # A killed server can already look dead (a zombie) a moment before
            # waitpid reports it, so a dead-looking one gets a short wait.
            proc.wait(timeout=0 if still_running else 1)
        except subprocess.TimeoutExpired:
            continue
        _launched.pop(pid, None)
        disown(pid)


def wait_gone(proc: psutil.Process, timeout: float) -> bool:
    """True once `proc` has exited (reaped if this process launched it); False after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if not alive(proc):
            reap_launched()
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def check_port_free(port: int) -> None:
    """Raise HostError, with the reason, unless UDP `port` can be bound on this host."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise HostError(f"UDP port {port} is already in use") from None
            raise HostError(f"UDP port {port} cannot be used: {exc.strerror}") from None


def _console_fd(fifo: Path) -> int:
    """Open the console FIFO read-write, so the server never sees end-of-file."""
    if fifo.exists() and not stat.S_ISFIFO(fifo.stat().st_mode):
        fifo.unlink()
    if not fifo.exists():
        os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR)
    # Whoever reads the FIFO takes the commands meant for the server: its owner only.
    modes.tighten_fd(fd, modes.OWNER_ONLY)
    return fd


def send_console(fifo: Path, command: str) -> bool:
    """Write one command line to the server console; False if it cannot (e.g. nobody reads it)."""
    try:
        # Non-blocking: if nobody holds the console open, fail instead of hanging.
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.write(fd, f"{command}\n".encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


class ConsoleTail:
    """Forwards what the server appends to console.log to a start job's sink, secrets masked."""

    def __init__(self, path: Path, sink: LineSink, secrets: tuple[str, ...] = ()) -> None:
        start = console.Position()
        if (fid := console.file_id(path)) is not None:
            start = console.Position(fid, path.stat().st_size)
        self.reader = console.ConsoleReader(path, start)
        self.sink = sink
        self.secrets = secrets

    def pump(self, *, final: bool = False) -> None:
        for row in self.reader.read(final=final):
            self.sink(row.stream, console.redact(row.text, self.secrets))


def mark_start(files: Files, note: str, *, log_limit: int) -> None:
    """Before a launch: tighten the server's directory, replace a console.log of `log_limit`
    bytes or more by a fresh one, then note the start in it.

    The only moment console.log may be swapped: no srcds holds it open (while one runs,
    logspace.py keeps it within its budget in place).
    """
    modes.make_dirs(files.install_dir)
    console.rotate(files.log, log_limit)
    modes.tighten_file(console.rotated(files.log))
    console.write_marker(files.log, note)


def launch(argv: list[str], files: Files) -> subprocess.Popen:
    """Start srcds_run detached, console on the FIFO, output appended to console.log.

    The pid file is written before returning, so other processes find the server.
    """
    console = _console_fd(files.fifo)
    try:
        with open(modes.open_append(files.log), "ab") as log, spawning() as own:
            proc = subprocess.Popen(
                argv,
                stdin=console,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=files.install_dir,
                close_fds=True,
                start_new_session=True,  # outlives this job and this worker
            )
            own(proc.pid)  # reaped by us (reap_launched), never by a subreaper's sweep
    finally:
        os.close(console)
    _launched[proc.pid] = proc
    # Before the waiter starts: until it is reaped, a child that died at once is still
    # a zombie whose creation time can be read.
    modes.write_text(files.pid, f"{proc.pid}\n{psutil.Process(proc.pid).create_time()}\n")
    exits.watch(proc, files.install_dir, on_reaped=_reaped)
    return proc


def _reaped(pid: int) -> None:
    _launched.pop(pid, None)
    disown(pid)


def kill_launched(files: Files, proc: subprocess.Popen, sink: LineSink, *, grace: float, reason: str) -> None:
    """Stop a server this process launched (TERM, then KILL after `grace`) and forget it."""

    def wait_exit(timeout: float) -> bool:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    terminate_tree(
        proc.pid,
        grace=grace,
        notify=lambda text: sink("system", text),
        reason=reason,
        wait_exit=wait_exit,
    )
    _launched.pop(proc.pid, None)
    disown(proc.pid)
    files.pid.unlink(missing_ok=True)
