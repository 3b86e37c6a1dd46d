"""Run one subprocess, stream its output line by line, and stop it on request.

Callers get every line through a single `on_line(stream, text)` callback that
is always invoked from the calling thread: reader threads only push onto a
queue, so code behind `on_line` (database writes, websockets) never needs locks.
"""

from __future__ import annotations

import codecs
import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import psutil

LineSink = Callable[[str, str], None]

MAX_LINE = 4096  # longer lines are delivered in chunks of this many characters
_READ_SIZE = 65536
_QUEUED_READS = 32  # reads waiting for on_line, at most _READ_SIZE bytes each
_POLL = 0.05  # how often the supervising loop looks at the token and the clock
_TRACK_EVERY = 0.25  # how often descendants are re-listed while the child runs
_LEFTOVER_WAIT = 0.5  # how long readers may stay open after the child exits
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def default_grace() -> float:
    return float(os.environ.get("HOSTCTL_STOP_GRACE", 5))


class CancelToken:
    """A one-way flag another thread can raise to stop a running operation."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout` passes; True if cancelled."""
        return self._event.wait(timeout)


class RunResult(int):
    """The exit code as Popen reports it (negative: killed by that signal)."""

    cancelled: bool
    timed_out: bool

    def __new__(cls, code: int, *, cancelled: bool = False, timed_out: bool = False):
        result = super().__new__(cls, code)
        result.cancelled = cancelled
        result.timed_out = timed_out
        return result

    def __repr__(self) -> str:
        return f"RunResult({int(self)}, cancelled={self.cancelled}, timed_out={self.timed_out})"


class LineSplitter:
    """Turn a byte stream into text lines, holding at most MAX_LINE characters.

    "\\r" counts as a line break so progress redraws become separate lines; a
    "\\r" at the end of a chunk is held back because the next chunk may start
    with the "\\n" of a "\\r\\n".
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._chunked = False  # part of the pending line was already emitted

    def feed(self, data: bytes, *, final: bool = False) -> None:
        text = self._pending + self._decoder.decode(data, final)
        held = ""
        if not final and text.endswith("\r"):
            text, held = text[:-1], "\r"
        *complete, rest = _LINE_BREAK.split(text)
        for line in complete:
            # A line that was exactly a multiple of MAX_LINE long has been
            # emitted in full already; its terminator must not add an empty line.
            if line or not self._chunked:
                self._emit_chunks(line)
            self._chunked = False
        while len(rest) >= MAX_LINE:
            self._emit(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
            self._chunked = True
        if final and rest:
            self._emit(rest)
            rest = ""
        self._pending = rest + held

    def _emit_chunks(self, line: str) -> None:
        for start in range(0, max(len(line), 1), MAX_LINE):
            self._emit(line[start : start + MAX_LINE])


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


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


def _merge(*groups: Iterable[psutil.Process]) -> list[psutil.Process]:
    # psutil.Process hashes on pid + creation time, so a reused pid stays distinct.
    return list(dict.fromkeys(p for group in groups for p in group))


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
    procs = _merge(tracked, descendants(pid))
    outside = [p for p in procs if _pgid(p) not in (pid, None)]
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
    procs = _merge(procs, descendants(pid))
    count = kill_tree(pid, procs) + (0 if root_gone else 1)
    notify(f"Grace period {grace:g}s expired: sent SIGKILL to {count} processes")
    wait_exit(1.0)


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except OSError:
        return None


def _read_stream(fd: int, stream: str, lines: queue.Queue) -> None:
    # One queue item per read, not per line: a fast child printing short lines
    # would otherwise spend more time in queue locks than in anything else.
    batch: list[str] = []
    splitter = LineSplitter(batch.append)
    try:
        while data := os.read(fd, _READ_SIZE):
            splitter.feed(data)
            if batch:
                lines.put((stream, batch[:]))
                batch.clear()
        splitter.feed(b"", final=True)
        if batch:
            lines.put((stream, batch[:]))
    finally:
        lines.put((stream, None))  # end-of-stream marker, even after an error


class _Supervisor:
    """One run: owns the child, its reader threads and the output queue."""

    def __init__(self, proc: subprocess.Popen, on_line: LineSink, managed: bool) -> None:
        self.proc = proc
        self.on_line = on_line
        self.managed = managed
        # Bounded: when on_line is slower than the child, readers block, the pipe
        # fills and the child waits; memory stays flat however much it prints.
        self.lines: queue.Queue = queue.Queue(maxsize=_QUEUED_READS)
        self.open_streams = 2
        self.tracked: list[psutil.Process] = []
        self.readers = [
            threading.Thread(
                target=_read_stream,
                args=(pipe.fileno(), name, self.lines),
                name=f"hostctl-{name}-{proc.pid}",
                daemon=True,
            )
            for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
        ]
        for reader in self.readers:
            reader.start()

    def system(self, text: str) -> None:
        self.on_line("system", text)

    def pump(self, timeout: float) -> None:
        """Deliver queued lines, waiting up to `timeout` for the first one."""
        for _ in range(_QUEUED_READS):  # bounded, so the token is still checked often
            try:
                stream, batch = self.lines.get(timeout=timeout)
            except queue.Empty:
                return
            timeout = 0  # only the first batch is waited for
            if batch is None:
                self.open_streams -= 1
            else:
                for text in batch:
                    self.on_line(stream, text)

    def exited(self) -> bool:
        # WNOWAIT leaves the child a zombie, so its pid (and group id) cannot be
        # reused while we may still signal the group; close() reaps it.
        return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.pump(min(_POLL, remaining))
        return True

    def supervise(self, cancel: CancelToken | None, grace: float, timeout: float | None) -> RunResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        cancelled = timed_out = False
        next_track = 0.0
        while not self.exited():
            if cancel is not None and cancel.cancelled:
                cancelled = True
                self.stop("Cancel requested", grace)
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                self.stop(f"Timed out after {timeout:g}s", grace)
                break
            if self.managed and time.monotonic() >= next_track:
                # Remember descendants while they can still be found, in case
                # they outlive the child and keep its pipes open.
                self.tracked = _merge(self.tracked, descendants(self.proc.pid))
                next_track = time.monotonic() + _TRACK_EVERY
            self.pump(_POLL)
        self.drain()
        return RunResult(self.proc.wait(), cancelled=cancelled, timed_out=timed_out)

    def stop(self, reason: str, grace: float) -> None:
        terminate_tree(
            self.proc.pid,
            grace=grace,
            notify=self.system,
            reason=reason,
            wait_exit=self.wait_exit,
            tracked=self.tracked,
        )

    def drain(self) -> None:
        """Deliver the rest of the output once the child has exited."""
        leftover_deadline = time.monotonic() + _LEFTOVER_WAIT
        while self.open_streams:
            self.pump(_POLL)
            if self.managed and self.open_streams and time.monotonic() >= leftover_deadline:
                procs = _merge(self.tracked, descendants(self.proc.pid))
                count = kill_tree(self.proc.pid, procs)
                self.system(
                    f"Process exited but its output stayed open: sent SIGKILL to "
                    f"process group {self.proc.pid} and {count} leftover descendants"
                )
                leftover_deadline = float("inf")

    def close(self) -> None:
        """Reap the child, join the readers and close the pipes, whatever happened."""
        if self.proc.poll() is None:  # only after an exception in on_line
            if self.managed:
                kill_tree(self.proc.pid, _merge(self.tracked, descendants(self.proc.pid)))
            else:
                self.proc.kill()
        self.proc.wait()
        for reader in self.readers:
            reader.join()
        self.proc.stdout.close()
        self.proc.stderr.close()


def run_command(
    argv,
    *,
    on_line: LineSink,
    cancel: CancelToken | None = None,
    cwd=None,
    env=None,
    grace: float | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run `argv` (no shell), send each output line to `on_line`, return the exit code.

    With a cancel token or a timeout the child gets its own session, so the whole
    tree it starts can be stopped: SIGTERM, then SIGKILL after `grace` seconds.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string: no shell is used")
    argv = [os.fspath(arg) for arg in argv]
    grace = default_grace() if grace is None else grace
    managed = cancel is not None or timeout is not None
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        cwd=cwd,
        env=env,
        start_new_session=managed,
    )
    supervisor = _Supervisor(proc, on_line, managed)
    try:
        return supervisor.supervise(cancel, grace, timeout)
    finally:
        supervisor.close()
