"""Lifecycle of one L4D2 dedicated server: install, update, start, stop, status.

Files kept in the install dir, so any process on the host can find a server
started by another one (the worker may have restarted since):
- srcds.pid: pid and creation time of the running srcds_run (guards pid reuse)
- console.fifo: the server console; `stop` writes "quit" into it
- console.log: everything the server prints
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from hostctl import servercfg, steamcmd
from hostctl.a2s import query_info
from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.lines import LineSplitter
from hostctl.process import CancelToken, LineSink, run_command
from hostctl.proctree import alive, descendants, kill_tree, terminate_tree

__all__ = [
    "HostError",
    "ServerSpec",
    "ServerStatus",
    "command_line",
    "install",
    "restart",
    "start",
    "status",
    "stop",
    "update",
]

_A2S_TIMEOUT = 0.5  # per A2S_INFO try while waiting for a starting server
_STATUS_A2S_TIMEOUT = 1.0  # how long status() waits for an A2S_INFO answer
_START_POLL = 0.1

# srcds processes this process started. They are our children, so they must be
# reaped here or they linger as zombies after they exit.
_launched: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class ServerSpec:
    id: int
    install_dir: Path
    port: int
    map: str = "c1m1_hotel"
    max_players: int = 8
    name: str = ""


@dataclass(frozen=True)
class ServerStatus:
    state: str  # "not_installed" | "stopped" | "running" | "crashed"
    name: str | None = None
    map: str | None = None
    players: int | None = None
    max_players: int | None = None
    pid: int | None = None


@dataclass(frozen=True)
class _Files:
    install_dir: Path

    @property
    def srcds_run(self) -> Path:
        return self.install_dir / "srcds_run"

    @property
    def pid(self) -> Path:
        return self.install_dir / "srcds.pid"

    @property
    def fifo(self) -> Path:
        return self.install_dir / "console.fifo"

    @property
    def log(self) -> Path:
        return self.install_dir / "console.log"

    @property
    def cfg_dir(self) -> Path:
        return self.install_dir / "left4dead2" / "cfg"


def _files(spec: ServerSpec) -> _Files:
    return _Files(Path(spec.install_dir).resolve())


def command_line(kind: str, spec: ServerSpec, *, config: HostConfig) -> list[str]:
    """The argv `kind` runs, for the log's opening line.

    install/update: the first steamcmd pass; start/restart: srcds_run;
    stop: the console command it sends. Raises HostError if steamcmd is missing.
    """
    files = _files(spec)
    if kind in ("install", "update"):
        return steamcmd.passes(files.install_dir, validate=kind == "install", config=config)[0]
    if kind in ("start", "restart"):
        return [
            str(files.srcds_run),
            *("-game", "left4dead2", "-strictportbind", "-ip", "0.0.0.0"),
            *("-port", str(spec.port), "+map", spec.map, "-maxplayers", str(spec.max_players)),
            *("+servercfgfile", "server.cfg"),
        ]
    if kind == "stop":
        return ["quit"]
    raise ValueError(f"unknown job kind {kind!r}")


# --- install / update ---------------------------------------------------------


def install(
    spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig
) -> int:
    return _run_steamcmd(spec, sink, cancel, config, validate=True)


def update(spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig) -> int:
    return _run_steamcmd(spec, sink, cancel, config, validate=False)


def _run_steamcmd(spec, sink, cancel, config, *, validate: bool) -> int:
    files = _files(spec)
    argvs = steamcmd.passes(files.install_dir, validate=validate, config=config)
    files.install_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOSTCTL_SIM_SECONDS=str(config.sim_seconds)) if config.simulate else None
    verb = "Installing" if validate else "Updating"
    for number, argv in enumerate(argvs, 1):
        sink("system", f"{verb} server files in {files.install_dir} (steamcmd run {number} of {len(argvs)})")
        sink("system", f"$ {shlex.join(argv)}")
        judge = steamcmd.OutputJudge(platform_workaround=config.platform_workaround)

        def on_line(stream: str, text: str, judge=judge) -> None:
            sink(stream, text)
            if stream != "system" and (reason := judge.feed(text)):
                sink("system", reason)

        result = run_command(
            argv, on_line=on_line, cancel=cancel, cwd=files.install_dir, env=env, grace=config.stop_grace
        )
        if result.cancelled:
            sink("system", f"steamcmd stopped on request (exit code {int(result)})")
            return int(result)
        code = judge.exit_code(result)
        if code:
            if result == 0 and not judge.reasons:
                sink("system", "steamcmd exited without reporting success")
            sink("system", f"{verb} failed (exit code {code})")
            return code
    sink("system", f"{verb} finished: server files are ready")
    return 0


# --- running state ------------------------------------------------------------


def _reap_launched() -> None:
    """Reap the servers this process started that have exited."""
    for pid, proc in list(_launched.items()):
        try:
            running = alive(psutil.Process(pid))
        except psutil.NoSuchProcess:
            running = False
        try:
            # A killed server can already look dead (a zombie) a moment before
            # waitpid reports it, so a dead-looking one gets a short wait.
            proc.wait(timeout=0 if running else 1)
        except subprocess.TimeoutExpired:
            continue
        _launched.pop(pid, None)


def _running(files: _Files) -> psutil.Process | None:
    """The server process named by the pid file, if it is still that process."""
    try:
        pid_text, created_text = files.pid.read_text().split()
        proc = psutil.Process(int(pid_text))
        if proc.create_time() != float(created_text):
            return None  # the pid now belongs to another process
        if not any("srcds" in part for part in proc.cmdline()):
            return None
    except (OSError, ValueError, psutil.Error):
        return None
    return proc if alive(proc) else None


def _wait_gone(proc: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not alive(proc):
            _reap_launched()
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def status(spec: ServerSpec, *, config: HostConfig) -> ServerStatus:
    files = _files(spec)
    if not files.srcds_run.exists():
        return ServerStatus("not_installed")
    if not files.pid.exists():
        return ServerStatus("stopped")
    proc = _running(files)
    if proc is None:
        # A clean stop removes the pid file, so the server died on its own.
        _reap_launched()
        return ServerStatus("crashed")
    info = query_info(spec.port, timeout=_STATUS_A2S_TIMEOUT)
    if info is None:  # still loading or busy: running, details unknown
        return ServerStatus("running", pid=proc.pid)
    return ServerStatus(
        "running",
        name=info.server_name,
        map=info.map_name,
        players=info.player_count,
        max_players=info.max_players,
        pid=proc.pid,
    )


def kill_strays(spec: ServerSpec) -> int:
    """SIGKILL what a dead worker left working in the install dir (a steamcmd mid-download).

    The game server named by the pid file is spared with everything it started:
    it is meant to outlive jobs. Returns how many processes were killed.
    """
    files = _files(spec)
    server = _running(files)
    spared = {os.getpid()} | ({server.pid, *(p.pid for p in descendants(server.pid))} if server else set())
    killed = 0
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info["cwd"]
        if proc.pid in spared or not cwd:
            continue
        if Path(cwd) != files.install_dir and files.install_dir not in Path(cwd).parents:
            continue
        try:
            pgid = os.getpgid(proc.pid)
        except OSError:
            continue
        if pgid == os.getpgrp():
            continue  # our own group: not something a dead worker left behind
        killed += kill_tree(pgid, [proc, *descendants(proc.pid)])
    return killed


# --- start ----------------------------------------------------------------------


def _check_port_free(port: int) -> None:
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
    return os.open(fifo, os.O_RDWR)


class _ConsoleTail:
    """Forwards what the server appends to console.log to the sink while starting."""

    def __init__(self, path: Path, sink: LineSink) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.splitter = LineSplitter(lambda text: sink("stdout", text))

    def pump(self, *, final: bool = False) -> None:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            data = log.read()
        self.offset += len(data)
        self.splitter.feed(data, final=final)


def start(spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig) -> int:
    files = _files(spec)
    servercfg.validate(port=spec.port, map_name=spec.map, max_players=spec.max_players)
    if not files.srcds_run.exists():
        raise HostError(f"srcds_run not found in {files.install_dir}: install the server first")
    if proc := _running(files):
        sink("system", f"Server is already running (pid {proc.pid})")
        return 0
    _reap_launched()
    _check_port_free(spec.port)
    name = servercfg.hostname(spec.name, default=f"L4D2 server {spec.id}")
    servercfg.write(files.cfg_dir, name=name)
    sink("system", f'Wrote {files.cfg_dir / "server.cfg"} (hostname "{name}")')

    argv = command_line("start", spec, config=config)
    sink("system", f"$ {shlex.join(argv)}")
    tail = _ConsoleTail(files.log, sink)
    console = _console_fd(files.fifo)
    try:
        with open(files.log, "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=console,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=files.install_dir,
                close_fds=True,
                start_new_session=True,  # outlives this job and this worker
            )
    finally:
        os.close(console)
    _launched[proc.pid] = proc
    files.pid.write_text(f"{proc.pid}\n{psutil.Process(proc.pid).create_time()}\n")
    sink("system", f"Started srcds_run (pid {proc.pid}); waiting for it to answer on UDP port {spec.port}")
    return _wait_until_up(spec, files, proc, tail, sink, cancel, config)


def _wait_until_up(spec, files, proc, tail, sink, cancel, config) -> int:
    deadline = time.monotonic() + config.start_timeout
    while True:
        tail.pump()
        if proc.poll() is not None:
            tail.pump(final=True)
            files.pid.unlink(missing_ok=True)
            sink("system", f"srcds_run exited with code {proc.returncode} while starting")
            return proc.returncode or 1
        if cancel is not None and cancel.cancelled:
            _kill_launched(files, proc, sink, config, "Cancel requested")
            tail.pump(final=True)
            return proc.returncode
        info = query_info(spec.port, timeout=_A2S_TIMEOUT)
        if info is not None:
            tail.pump()
            sink("system", f"Server is up: {info.server_name!r} on {info.map_name}, {info.max_players} slots")
            return 0
        if time.monotonic() >= deadline:
            reason = f"No A2S_INFO answer within {config.start_timeout:g}s"
            _kill_launched(files, proc, sink, config, reason)
            tail.pump(final=True)
            return 1
        if cancel is not None:
            cancel.wait(_START_POLL)
        else:
            time.sleep(_START_POLL)


def _kill_launched(
    files: _Files, proc: subprocess.Popen, sink: LineSink, config: HostConfig, reason: str
) -> None:
    def wait_exit(timeout: float) -> bool:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    terminate_tree(
        proc.pid,
        grace=config.stop_grace,
        notify=lambda text: sink("system", text),
        reason=reason,
        wait_exit=wait_exit,
    )
    _launched.pop(proc.pid, None)
    files.pid.unlink(missing_ok=True)


# --- stop / restart ---------------------------------------------------------------


def _send_console(fifo: Path, command: str) -> bool:
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


def stop(spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig) -> int:
    """Stop the server: console `quit`, then SIGTERM, then SIGKILL.

    `cancel` is accepted for a uniform signature but not acted on: a stop
    abandoned half-way would leave a server nobody tracks.
    """
    files = _files(spec)
    proc = _running(files)
    if proc is None:
        _reap_launched()
        if files.pid.exists():
            sink("system", "Server is not running (its process had already exited)")
            files.pid.unlink()
        else:
            sink("system", "Server is not running")
        return 0
    quit_wait = min(10.0, config.stop_grace * 2)
    if _send_console(files.fifo, "quit"):
        sink("system", f"Sent 'quit' to the server console (pid {proc.pid}); waiting up to {quit_wait:g}s")
    else:
        sink("system", "Could not write to the server console; terminating the process instead")
        quit_wait = 0
    if _wait_gone(proc, quit_wait):
        sink("system", "Server quit")
    else:
        terminate_tree(
            proc.pid,
            grace=config.stop_grace,
            notify=lambda text: sink("system", text),
            reason=f"Server still running {quit_wait:g}s after 'quit'",
            wait_exit=lambda timeout: _wait_gone(proc, timeout),
        )
    if alive(proc):
        sink("system", f"Server process {proc.pid} could not be stopped")
        return 1
    files.pid.unlink(missing_ok=True)
    sink("system", "Server stopped")
    return 0


def restart(
    spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig
) -> int:
    code = stop(spec, sink, cancel, config=config)
    if code:
        return code
    if cancel is not None and cancel.cancelled:
        sink("system", "Cancel requested: the server was stopped and will not be started again")
        return 1
    return start(spec, sink, cancel, config=config)
