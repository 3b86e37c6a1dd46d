"""Lifecycle of one L4D2 dedicated server: install, update, start, stop, restart, status.

The verbs only; how a server's files, console and process are handled is in srcds.py.
"""

from __future__ import annotations

import os
import time

from hostctl import builds, console, scope, servercfg, srcds, steamcmd, warning
from hostctl.a2s import query_info
from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.process import PHASE, PROGRESS, CancelToken, LineSink, shown_command
from hostctl.proctree import alive, descendants, kill_tree, marked, pgid_of, terminate_tree
from hostctl.spec import ServerSpec, ServerStatus

__all__ = [
    "HostError",
    "ServerSpec",
    "ServerStatus",
    "command_line",
    "install",
    "kill_strays",
    "restart",
    "start",
    "status",
    "stop",
    "update",
]

_A2S_TIMEOUT = 0.5  # per A2S_INFO try while waiting for a starting server
_STATUS_A2S_TIMEOUT = 1.0  # how long status() waits for an A2S_INFO answer
_START_POLL = 0.1


def command_line(kind: str, spec: ServerSpec, *, config: HostConfig) -> list[str]:
    """The argv `kind` runs, for the log's opening line.

    install/update: the first steamcmd pass; start/restart: srcds_run;
    stop: the console command it sends. Raises HostError if steamcmd is missing.
    """
    files = srcds.files_for(spec)
    if kind in ("install", "update"):
        return steamcmd.passes(files.install_dir, validate=kind == "install", config=config)[0]
    if kind in ("start", "restart"):
        # -norestart: srcds_run must not restart a crashed server itself; the crash
        # has to reach the panel's supervisor (DESIGN.md §8), which restarts it as a job.
        return [
            str(files.srcds_run),
            *("-game", "left4dead2", "-norestart", "-strictportbind", "-ip", "0.0.0.0"),
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
    files = srcds.files_for(spec)
    if srcds.running(files):
        # Validating rewrites every file under a live server: it could crash it mid-game.
        raise HostError(
            "The server is running: stop it before installing. "
            "(Update stops it, updates it and starts it again for you.)"
        )
    return steamcmd.run(files.install_dir, sink, cancel, validate=True, config=config)


REPAIR_HINT = (
    "To repair damaged or missing game files, stop the server and run Install: it checks "
    "(validates) every file and downloads what is wrong."
)


def update(
    spec: ServerSpec,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    config: HostConfig,
    hurry: CancelToken | None = None,
) -> int:
    """Update the game files; a running server is warned, stopped, updated and started again.

    Nothing happens (no warning, no stop, no steamcmd download) when the installed build is
    already the latest: an update would only cost the players their game.
    """
    files = srcds.files_for(spec)
    if _up_to_date(spec, files, sink, cancel, config):
        return 0
    if cancel is not None and cancel.cancelled:
        sink("system", "Cancel requested: nothing was updated.")
        return 1
    if srcds.running(files) is None:
        return steamcmd.run(files.install_dir, sink, cancel, validate=False, config=config)
    return _update_running(spec, files, sink, cancel, config, hurry)


def _up_to_date(spec, files, sink, cancel, config) -> bool:
    """Whether the installed build is the latest, said in a line either way.

    A build the panel already knows to be newer is trusted as is; otherwise steamcmd's app
    info is asked now (a few seconds): the panel's own answer may be an hour old, and an
    update must never be skipped because of a stale "up to date". Unknown either side: update.
    """
    installed = builds.installed_build(files.install_dir)
    if installed is None:
        return False  # no appmanifest: steamcmd lays out what is missing
    latest = spec.latest_build
    if not (latest.isdigit() and int(latest) > int(installed)):
        sink("system", f"Installed build {installed}; asking steamcmd for the latest build.")
        try:
            latest = builds.latest_build(config, cancel=cancel)
        except HostError as exc:
            sink("system", f"{exc}. Updating anyway.")
            return False
    if int(latest) > int(installed):
        sink("system", f"Build {latest} is out (installed: {installed}): updating.")
        return False
    sink(
        "system",
        f"Already up to date: build {installed} is the latest. Nothing to do; the server was not touched.",
    )
    sink("system", REPAIR_HINT)
    sink(PROGRESS, "100")
    return True


def _update_running(spec, files, sink, cancel, config, hurry) -> int:
    """Warn players, stop, update, start: one operation, each step a phase of the log.

    The server ends running whenever it can: once it is stopped, a failed or cancelled
    update still starts it again (on the files it has), and the log says why the job failed.
    """
    sink("system", "The server is running: warning its players, then stopping, updating and starting it.")
    sink(PHASE, "Warn players")
    if not warn(spec, files, sink, cancel, hurry, config, "restart", reason="for a game update"):
        sink("system", "Cancel requested during the warning: the server keeps running, nothing was updated.")
        return 1
    sink(PROGRESS, "5")
    sink(PHASE, "Stop")
    code = stop(spec, sink, config=config, warn=False)
    if code:
        sink("system", "The server could not be stopped, so it was not updated.")
        return code
    sink(PROGRESS, "10")
    sink(PHASE, "Update")
    code = steamcmd.run(
        files.install_dir, _scaled(sink, 10, 90), cancel, validate=False, config=config, phases=False
    )
    if code:
        what = "was cancelled" if cancel is not None and cancel.cancelled else "failed"
        sink("system", f"The update {what}: starting the server again on the files it has.")
    sink(PHASE, "Start")
    # No cancel token: a cancel stops the update, never leaves the server down.
    started = start(spec, sink, None, config=config)
    if started:
        sink("system", "The server did not come back up; see the lines above.")
        return started
    sink(PROGRESS, "100")
    return code


def _scaled(sink: LineSink, low: int, high: int) -> LineSink:
    """`sink` with PROGRESS percents mapped into low..high: one bar for the whole operation."""

    def scaled(stream: str, text: str) -> None:
        if stream == PROGRESS:
            text = str(low + int(text) * (high - low) // 100)
        sink(stream, text)

    return scaled


# --- running state ------------------------------------------------------------


def status(spec: ServerSpec, *, config: HostConfig) -> ServerStatus:
    files = srcds.files_for(spec)
    if not files.srcds_run.exists():
        return ServerStatus("not_installed")
    if not files.pid.exists():
        return ServerStatus("stopped")
    proc = srcds.running(files)
    if proc is None:
        # A clean stop removes the pid file, so the server died on its own.
        srcds.reap_launched()
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


def kill_strays(spec: ServerSpec, mark: str) -> int:
    """SIGKILL what a dead worker's run left working (a steamcmd mid-download).

    Only processes carrying the run's `mark` (CancelToken.mark) are touched: an
    operator's shell in the install dir is not the job's. The game server named
    by the pid file is spared with everything it started, even if it were marked:
    it is meant to outlive jobs. Returns how many processes were killed.
    """
    server = srcds.running(srcds.files_for(spec))
    spared = {os.getpid()} | ({server.pid, *(p.pid for p in descendants(server.pid))} if server else set())
    strays = [proc for proc in marked(mark) if proc.pid not in spared]
    killed = 0
    for proc in strays:
        pgid = pgid_of(proc)
        if pgid is not None and pgid != os.getpgrp():
            killed += kill_tree(pgid, [proc])
    return killed


# --- start ----------------------------------------------------------------------


def start(spec: ServerSpec, sink: LineSink, cancel: CancelToken | None = None, *, config: HostConfig) -> int:
    files = srcds.files_for(spec)
    servercfg.validate(port=spec.port, map_name=spec.map, max_players=spec.max_players)
    if not files.srcds_run.exists():
        raise HostError(f"srcds_run not found in {files.install_dir}: install the server first")
    if proc := srcds.running(files):
        sink("system", "Server is already running")
        return 0
    srcds.reap_launched()
    srcds.check_port_free(spec.port)
    path = servercfg.write(files.cfg_dir, servercfg.render(spec))
    name = servercfg.hostname(spec.name, default=f"L4D2 server {spec.id}")
    sink("system", f'Wrote {path} (hostname "{name}")')

    argv = scope.prefix(spec, config) + command_line("start", spec, config=config)
    sink("system", f"$ {shown_command(argv, files.install_dir)}")
    note = time.strftime(f"{console.START_NOTE} %Y-%m-%d %H:%M:%S UTC", time.gmtime())
    srcds.mark_start(files, note, log_limit=config.console_log_max_bytes)
    tail = srcds.ConsoleTail(files.log, sink, secrets=(spec.rcon_password,))
    proc = srcds.launch(argv, files)
    sink("system", f"Started srcds_run; waiting for it to answer on UDP port {spec.port}")
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
            srcds.kill_launched(files, proc, sink, grace=config.stop_grace, reason="Cancel requested")
            tail.pump(final=True)
            return proc.returncode
        info = query_info(spec.port, timeout=_A2S_TIMEOUT)
        if info is not None:
            tail.pump()
            sink("system", f"Server is up: {info.server_name!r} on {info.map_name}, {info.max_players} slots")
            return 0
        if time.monotonic() >= deadline:
            reason = f"No A2S_INFO answer within {config.start_timeout:g}s"
            srcds.kill_launched(files, proc, sink, grace=config.stop_grace, reason=reason)
            tail.pump(final=True)
            return 1
        if cancel is not None:
            cancel.wait(_START_POLL)
        else:
            time.sleep(_START_POLL)


# --- stop / restart ---------------------------------------------------------------


def warn(spec, files, sink, cancel, hurry, config, what, reason="") -> bool:
    """warning.warn_players with the host's warning time; False if cancelled during it."""
    return warning.warn_players(
        spec.port,
        files.fifo,
        sink,
        cancel,
        seconds=config.warning_seconds,
        reason=reason,
        what=what,
        hurry=hurry,
    )


def warn_phase(spec, files, sink, cancel, hurry, config, what) -> bool:
    """Players of a running server are warned first (a phase of its own when there is a wait);
    False if a cancel came during the warning: the server was left running, untouched."""
    if srcds.running(files) is None:
        return True  # nobody can be on a server that is not running (a crash restart)
    if config.warning_seconds > 0:
        sink(PHASE, "Warn players")
    if warn(spec, files, sink, cancel, hurry, config, what):
        return True
    sink("system", f"Cancel requested during the warning: the server keeps running, no {what}.")
    return False


def stop(
    spec: ServerSpec,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    config: HostConfig,
    hurry: CancelToken | None = None,
    warn: bool = True,
) -> int:
    """Stop the server: players warned (`warn`), then console `quit`, then SIGTERM, then SIGKILL.

    `cancel` ends the players' warning (the server keeps running); once the stop itself has
    begun it is not acted on: a stop abandoned half-way would leave a server nobody tracks.
    """
    files = srcds.files_for(spec)
    if warn and srcds.running(files) is not None:
        if not warn_phase(spec, files, sink, cancel, hurry, config, "stop"):
            return 1
        if config.warning_seconds > 0:
            sink(PHASE, "Stop")
    proc = srcds.running(files)
    if proc is None:
        srcds.reap_launched()
        if files.pid.exists():
            sink("system", "Server is not running (its process had already exited)")
            files.pid.unlink()
        else:
            sink("system", "Server is not running")
        return 0
    quit_wait = min(10.0, config.stop_grace * 2)
    if srcds.send_console(files.fifo, "quit"):
        sink("system", f"Sent 'quit' to the server console; waiting up to {quit_wait:g}s")
    else:
        sink("system", "Could not write to the server console; terminating the process instead")
        quit_wait = 0
    if srcds.wait_gone(proc, quit_wait):
        sink("system", "Server quit")
    else:
        terminate_tree(
            proc.pid,
            grace=config.stop_grace,
            notify=lambda text: sink("system", text),
            reason=f"Server still running {quit_wait:g}s after 'quit'",
            wait_exit=lambda timeout: srcds.wait_gone(proc, timeout),
        )
    if alive(proc):
        sink("system", "The server process could not be stopped")
        return 1
    files.pid.unlink(missing_ok=True)
    sink("system", "Server stopped")
    return 0


def restart(
    spec: ServerSpec,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    config: HostConfig,
    hurry: CancelToken | None = None,
) -> int:
    if not warn_phase(spec, srcds.files_for(spec), sink, cancel, hurry, config, "restart"):
        return 1
    sink(PHASE, "Stop")
    code = stop(spec, sink, cancel, config=config, warn=False)
    if code:
        return code
    if cancel is not None and cancel.cancelled:
        sink("system", "Cancel requested: the server was stopped and will not be started again")
        return 1
    sink(PHASE, "Start")
    return start(spec, sink, cancel, config=config)
