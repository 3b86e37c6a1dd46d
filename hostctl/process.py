"""Run one subprocess, stream its output line by line, and stop it on request.

Callers get every line through a single `on_line(stream, text)` callback that
is always invoked from the calling thread: reader threads only push onto a
queue, so code behind `on_line` (database writes, websockets) never needs locks.
"""

from __future__ import annotations

import os
import queue
import secrets
import select
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from hostctl.lines import LineSplitter
from hostctl.proctree import MARK_VAR, descendants, disown, kill_tree, marked, merge, spawning, terminate_tree

LineSink = Callable[[str, str], None]
# Besides "stdout"/"stderr"/"system" lines, lifecycle operations send two structured
# kinds through the same sink, so no reader ever has to parse our prose:
PHASE = "phase"  # text: the title of the step that starts now ("Download (Windows platform)")
PROGRESS = "progress"  # text: the whole operation's progress, a whole percent ("42")

# Lifecycle calls pass HostConfig.stop_grace (from the HOSTCTL_STOP_GRACE setting);
# this is only for direct callers that do not say.
DEFAULT_GRACE = 5.0
_READ_SIZE = 65536
_QUEUED_READS = 32  # reads waiting for on_line, at most _READ_SIZE bytes each
_POLL = 0.05  # how often the supervising loop looks at the token and the clock
_TRACK_EVERY = 0.25  # how often descendants are re-listed while the child runs
_LEFTOVER_WAIT = 0.5  # how long readers may stay open after the child exits


class CancelToken:
    """A one-way flag another thread can raise to stop a running operation.

    Every process run under the token carries `mark` in its environment (see
    proctree), so a cancel finds each one however it detached, and so can a
    later process after ours died (pass the same mark to `proctree.marked`).
    """

    def __init__(self, mark: str | None = None) -> None:
        self._event = threading.Event()
        self.mark = mark or f"run-{secrets.token_hex(8)}"
        self._wakers: list[Callable[[], None]] = []

    def cancel(self) -> None:
        self._event.set()
        for wake in list(self._wakers):
            wake()

    def on_cancel(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake()` (from the cancelling thread) when cancelled; returns the undo."""
        self._wakers.append(wake)
        return lambda: self._wakers.remove(wake)

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

    def __init__(self, proc: subprocess.Popen, on_line: LineSink, mark: str | None) -> None:
        self.proc = proc
        self.on_line = on_line
        self.mark = mark
        self.managed = mark is not None
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
        # Readable once the child has exited (Linux 5.3+): waiting on it, not on a clock,
        # once its pipes are closed and no line can wake us.
        try:
            self.pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.woken, self.waker = os.pipe()  # a cancel wakes that wait too (interrupt)
        os.set_blocking(self.waker, False)
        self.closing = threading.Lock()  # no wake-up written once the descriptors are closed
        self.closed = False

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
            if stream is None:
                return  # woken by a cancel: the caller looks at the token now
            if batch is None:
                self.open_streams -= 1
            else:
                for text in batch:
                    self.on_line(stream, text)

    def wait(self, timeout: float) -> None:
        """Deliver output, or wait for the child to exit, for up to `timeout`."""
        if self.open_streams:
            self.pump(timeout)
        elif self.pidfd is not None:
            # Both pipes are closed (the child closes them just before it exits): only
            # its exit, or a cancel, can come now.
            ready, _, _ = select.select([self.pidfd, self.woken], [], [], timeout)
            if self.woken in ready:
                os.read(self.woken, 64)
        else:
            time.sleep(min(timeout, 0.005))

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
            self.wait(min(_POLL, remaining))
        return True

    def interrupt(self) -> None:
        """Wake a pump waiting for output, so a cancel is acted on at once, not a poll later."""
        try:
            self.lines.put_nowait((None, None))
        except queue.Full:
            pass  # the pump is busy delivering lines and looks at the token between batches
        with self.closing:
            if not self.closed:
                try:
                    os.write(self.waker, b"!")
                except BlockingIOError:
                    pass  # the pipe is full: it is awake already

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
                self.tracked = merge(self.tracked, descendants(self.proc.pid))
                next_track = time.monotonic() + _TRACK_EVERY
            self.wait(_POLL)
        self.drain()
        if self.managed:
            self.kill_leftovers()
        return RunResult(self.proc.wait(), cancelled=cancelled, timed_out=timed_out)

    def known(self) -> list[psutil.Process]:
        """Every process of this run we can find: tracked, descendants, and marked ones."""
        procs = merge(self.tracked, descendants(self.proc.pid), marked(self.mark) if self.mark else [])
        return [p for p in procs if p.pid != self.proc.pid]

    def stop(self, reason: str, grace: float) -> None:
        terminate_tree(
            self.proc.pid,
            grace=grace,
            notify=self.system,
            reason=reason,
            wait_exit=self.wait_exit,
            tracked=self.known,
        )

    def kill_leftovers(self) -> None:
        """A run ends with its processes: a daemon it left behind (double-forked, stdio
        closed, deaf to SIGTERM) would otherwise outlive the job that started it."""
        leftovers = [p for p in marked(self.mark) if p.pid != self.proc.pid]
        if leftovers:
            count = kill_tree(self.proc.pid, leftovers)
            self.system(f"The command left {count} process(es) running after it ended: sent SIGKILL")

    def drain(self) -> None:
        """Deliver the rest of the output once the child has exited."""
        leftover_deadline = time.monotonic() + _LEFTOVER_WAIT
        while self.open_streams:
            self.pump(_POLL)
            if self.managed and self.open_streams and time.monotonic() >= leftover_deadline:
                count = kill_tree(self.proc.pid, self.known())
                self.system(
                    "Process exited but its output stayed open: sent SIGKILL to "
                    f"the process group and {count} leftover processes"
                )
                leftover_deadline = float("inf")

    def close(self) -> None:
        """Reap the child, join the readers and close the pipes, whatever happened."""
        if self.proc.poll() is None:  # only after an exception in on_line
            if self.managed:
                kill_tree(self.proc.pid, self.known())
            else:
                self.proc.kill()
        self.proc.wait()
        disown(self.proc.pid)
        for reader in self.readers:
            reader.join()
        self.proc.stdout.close()
        self.proc.stderr.close()
        with self.closing:
            self.closed = True
            for fd in (self.pidfd, self.woken, self.waker):
                if fd is not None:
                    os.close(fd)


def shown_command(argv: list[str], inside: Path) -> str:
    """`argv` as a log line for everyone: host paths outside `inside` (the server's own
    directory) are shortened to their last part, so owners see the command, not the host."""
    root = str(inside)
    shown = [
        arg
        if not os.path.isabs(arg) or arg == root or arg.startswith(root + os.sep)
        else os.path.basename(arg)
        for arg in argv
    ]
    return shlex.join(shown)


def run_command(
    argv,
    *,
    on_line: LineSink,
    cancel: CancelToken | None = None,
    cwd=None,
    env=None,
    grace: float = DEFAULT_GRACE,
    timeout: float | None = None,
) -> RunResult:
    """Run `argv` (no shell), send each output line to `on_line`, return the exit code.

    With a cancel token or a timeout the child gets its own session and a mark, so
    the whole tree it starts can be stopped: SIGTERM, then SIGKILL after `grace`
    seconds; and whatever of the tree is still alive when the child ends is killed.
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("argv must be a list of arguments, not a string: no shell is used")
    argv = [os.fspath(arg) for arg in argv]
    managed = cancel is not None or timeout is not None
    mark = (cancel or CancelToken()).mark if managed else None
    if mark is not None:
        env = {**(os.environ if env is None else env), MARK_VAR: mark}
    with spawning() as own:
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
        own(proc.pid)
    supervisor = _Supervisor(proc, on_line, mark)
    forget = cancel.on_cancel(supervisor.interrupt) if cancel is not None else None
    try:
        return supervisor.supervise(cancel, grace, timeout)
    finally:
        if forget:
            forget()
        supervisor.close()
