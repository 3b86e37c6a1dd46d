"""The one place the Django side talks to hostctl.

Maps a `Server` row to a plain `ServerSpec`, the settings to a `HostConfig`, and a
job kind to the hostctl call. hostctl itself never sees Django.
"""

import time

from django.conf import settings
from django.utils import timezone

from hostctl import a2s, builds, console, crash, cvars, files, l4d2, logspace, monitor, servercfg, srcds
from hostctl.config import HostConfig
from hostctl.lines import hide_home

from . import applied
from .live import notify_server
from .models import ActualState, Server

OPERATIONS = {
    "install": l4d2.install,
    "update": l4d2.update,
    "start": l4d2.start,
    "stop": l4d2.stop,
    "restart": l4d2.restart,
}


def host_config():
    return HostConfig(
        root=settings.HOSTCTL_ROOT,
        steamcmd=settings.HOSTCTL_STEAMCMD,
        simulate=settings.HOSTCTL_SIMULATE,
        sim_seconds=settings.HOSTCTL_SIM_SECONDS,
        stop_grace=settings.HOSTCTL_STOP_GRACE,
        platform_workaround=settings.HOSTCTL_PLATFORM_WORKAROUND,
        server_scope=settings.HOSTCTL_SERVER_SCOPE,
        warning_seconds=settings.WARNING_SECONDS,
        console_log_max_bytes=console_log_max_bytes(),
        steam_api_url=settings.STEAM_API_URL,
        steam_api_timeout=settings.STEAM_API_TIMEOUT,
    )


def console_log_max_bytes():
    return int(settings.L4D2_CONSOLE_LOG_MAX_MB * 1024 * 1024)


def spec_for(server, *, map_name=None):
    """The server as hostctl sees it; `map_name` overrides the map setting (applied.start_map)."""
    return l4d2.ServerSpec(
        id=server.id,
        install_dir=_install_dir(server.id),
        port=server.port,
        map=map_name or server.map,
        max_players=server.max_players,
        name=server.name,
        rcon_password=server.rcon_password,
        cvars=tuple((name, str(getattr(server, name))) for name in cvars.EVERYDAY),
        extra_cfg=server.extra_cfg,
        latest_build=server.latest_build,
    )


def server_cfg(server, *, mask_rcon=True):
    """The server.cfg the next start writes (RCON password masked); CfgError if a setting is invalid."""
    return servercfg.render(spec_for(server), mask_rcon=mask_rcon)


# --- the console (servers/console/pump.py runs these on the game host) ------------

CfgError = cvars.CfgError
Position = console.Position
redact = console.redact
MASK = console.MASK


def console_reader(server_id, position):
    """A reader of the server's console.log from `position` (hostctl.console.ConsoleReader)."""
    return console.ConsoleReader(_files(server_id).log, position)


SpaceRefused = logspace.Refused


def console_space(server_id):
    """The disk budget of the server's console.log (hostctl.logspace.ConsoleSpace)."""
    return logspace.ConsoleSpace(_files(server_id).log, console_log_max_bytes())


def send_console(server_id, line):
    """Write one line to the server's console input; False if it is not running."""
    return srcds.send_console(_files(server_id).fifo, line)


# --- files (servers/files/worker.py runs these on the game host) -------------------------


def file_max_bytes():
    return int(settings.L4D2_FILE_MAX_MB * 1024 * 1024)


def file_operation(server_id, op, args, payload):
    """Run one file manager request on the server's files: (result, bytes or None); FileError if refused."""
    server_files = files.ServerFiles(_install_dir(server_id), max_bytes=file_max_bytes())
    return files.perform(server_files, op, args, payload)


def _files(server_id):
    return srcds.files_for(l4d2.ServerSpec(id=server_id, install_dir=_install_dir(server_id), port=0))


def _install_dir(server_id):
    return settings.HOSTCTL_ROOT / str(server_id)


# The kinds that warn a running server's players first; `hurry` (a token) ends the wait early.
WARNED = {"update", "stop", "restart"}
# The kinds whose operation takes the job's params (backup, restore, addons... add themselves).
TAKES_PARAMS = set()


def run(kind, server, sink, cancel=None, hurry=None, params=None):
    """Run one lifecycle operation; returns the exit code. Raises l4d2.HostError on clear failures.

    `params` is the job's JSON (Job.params), for the kinds in TAKES_PARAMS.
    """
    extra = {"hurry": hurry} if kind in WARNED else {}
    if kind in TAKES_PARAMS:
        extra["params"] = params or {}
    spec = spec_for(server, map_name=applied.start_map(server, kind))
    settings_now = applied.snapshot(server)  # taken before the start: a save meanwhile stays pending
    began = time.time()
    code = OPERATIONS[kind](spec, sink, cancel, config=host_config(), **extra)
    if code == 0 and _started_since(spec, began):
        applied.record_start(server.id, settings_now)
    return code


def _started_since(spec, began):
    """Whether the server's process now running was launched after `began` (by this operation)."""
    check = monitor.check(spec)
    # Creation times are rounded by the kernel's clock ticks: a second of slack.
    return check.state == monitor.ALIVE and check.started is not None and check.started >= began - 1


def kill_strays(server, mark):
    """Kill what a dead worker's job (its processes carry `mark`) left running; the game server is spared."""
    return l4d2.kill_strays(spec_for(server), mark)


def refresh_actual_state(server):
    """Ask hostctl what the server is really doing and record it."""
    status = l4d2.status(spec_for(server), config=host_config())
    state = status.state if status.state in ActualState.values else ActualState.UNKNOWN
    now = timezone.now()
    rows = Server.objects.filter(pk=server.pk)
    # Only a change of state moves "since" (a running server's uptime).
    if not rows.exclude(actual_state=state).update(
        actual_state=state, actual_state_since=now, actual_state_checked_at=now, updated_at=now
    ):
        rows.update(actual_state_checked_at=now)
    notify_server(server.pk)
    return status


# --- game builds (automation/updates.py runs these on the game host) ---------------

NoticeScanner = builds.NoticeScanner


def installed_build(server):
    """The build in the server's appmanifest, or "" if it has none."""
    return builds.installed_build(spec_for(server).install_dir) or ""


def latest_build(cancel=None):
    """The latest public build from steamcmd; l4d2.HostError with the reason if steamcmd does not say."""
    return builds.latest_build(host_config(), cancel=cancel)


def console_log(server):
    """The server's console.log on this host (where srcds prints its update notice)."""
    return srcds.files_for(spec_for(server)).log


# --- supervision (servers/supervisor.py) -------------------------------------------------

# What check_process says of a server's process.
NOT_INSTALLED, STOPPED, ALIVE, DEAD = monitor.NOT_INSTALLED, monitor.STOPPED, monitor.ALIVE, monitor.DEAD
on_server_exit = monitor.on_exit  # callback(exit) the moment a server this process launched exits
off_server_exit = monitor.off_exit
usage = monitor.usage  # {pid: Usage(cpu_seconds, rss)} of each process tree
classify_crash = crash.classify


def check_process(server):
    """hostctl's ProcessCheck of the server: not installed, stopped, alive or dead."""
    return monitor.check(spec_for(server))


def forget_dead(server, pid):
    """Remove the pid file of a death that has been recorded, so it is recorded once."""
    return monitor.forget(spec_for(server), pid)


def query_a2s(servers, timeout=1.0):
    """{server id: a2s.Reading or None} for every server, queried all at once."""
    readings = a2s.query_many([server.port for server in servers], timeout=timeout)
    return {server.id: readings[server.port] for server in servers}


def console_tail(server, count=crash.TAIL_LINES):
    """The last `count` lines the server printed (its console.log on this host), for owners' eyes."""
    return [hide_home(line) for line in crash.tail_lines(console_log(server), count)]
