"""Backing up and restoring one L4D2 server's own files (DESIGN.md §13).

What is backed up: the server's folder less what an Install brings back (steamcmd lays out
the game's files again) and what the panel writes itself (server.cfg at every start, the
console log, its pid file and fifo): DEFAULT_IGNORE, in gitignore syntax, plus the
owner's own patterns. What stays: configs (`left4dead2/cfg`), `left4dead2/addons`
(SourceMod, MetaMod, plugins and their data), maps and Workshop files the owner added,
motd.txt, host.txt, mapcycle and the like.
"""

from __future__ import annotations

import shutil
from typing import BinaryIO

from hostctl import archive, l4d2, srcds
from hostctl.config import HostConfig
from hostctl.process import PHASE, CancelToken, LineSink
from hostctl.restore import swap_in, unpack
from hostctl.spec import ServerSpec

DEFAULT_IGNORE = """\
# The game's own files: Install (steamcmd validate) lays them out again.
/bin/
/hl2/
/platform/
/steamapps/
/steam_appid.txt
/srcds_run
/srcds_linux
/srcds.exe
/*.so
/*.dll
/update/
/sdk_content/
/left4dead2_dlc*/
/left4dead2_lv/
/left4dead2/bin/
/left4dead2/*.vpk
/left4dead2/gameinfo.txt
/left4dead2/steam.inf
/left4dead2/media/
/left4dead2/reslists/
/left4dead2/resource/
/left4dead2/scenes/
/left4dead2/expressions/
/left4dead2/cfg/config_default.cfg
/left4dead2/cfg/valve.rc
# What the panel writes itself, and runtime files.
/left4dead2/cfg/server.cfg
/srcds.pid
/console.fifo
/console.log*
/left4dead2/downloads/
/left4dead2/addons/sourcemod/logs/
/left4dead2/logs/
"""


def scope(extra: str = "") -> str:
    """The ignore patterns of a backup: the defaults, then the owner's own lines."""
    extra = extra.strip()
    return DEFAULT_IGNORE + (f"# This server's own patterns.\n{extra}\n" if extra else "")


def backup(
    spec: ServerSpec,
    out: BinaryIO,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    ignore: str,
    level: int,
) -> archive.Made:
    """Archive the server's files into `out` (the server may be running: files that change
    while read are read again). archive.Cancelled if cancelled."""
    root = srcds.files_for(spec).install_dir
    if not root.is_dir():
        raise l4d2.HostError(f"{root} does not exist: there is nothing to back up yet")
    made = archive.create(
        root, out, ignore=archive.ignore_spec(ignore.splitlines()), level=level, sink=sink, cancel=cancel
    )
    if made.skipped:
        sink("stderr", f"{len(made.skipped)} file(s) could not be captured; the rest is in the backup")
    return made


def restore(
    spec: ServerSpec,
    source: BinaryIO,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    config: HostConfig,
    hurry: CancelToken | None = None,
    size: int,
    sha256: str,
    ignore: str,
    truncate: bool = False,
    paths=None,
) -> int:
    """Put a backup's files (or only `paths`) back; the exit code.

    Unpacked first, while the server keeps running (a cancel or a damaged archive leaves the
    server and its files alone); then a running server's players are warned, it is stopped,
    the files are swapped in, and it is started again.
    """
    files = srcds.files_for(spec)
    root = files.install_dir
    sink(PHASE, "Unpack")
    try:
        staging, members = unpack(
            root, source, total=size, sha256=sha256, sink=sink, cancel=cancel, paths=paths
        )
    except archive.Cancelled:
        sink("system", "Cancel requested: nothing was restored; the server's files are as they were.")
        return 1
    was_running = srcds.running(files) is not None
    try:
        code = _stop_and_swap(
            spec, files, staging, members, sink, cancel, hurry, config, was_running, ignore, truncate, paths
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        # No cancel token: whatever happened above, a server that was running runs again.
        stopped = was_running and srcds.running(files) is None
        started = _start_again(spec, sink, config) if stopped else 0
    return code or started


def _stop_and_swap(
    spec, files, staging, members, sink, cancel, hurry, config, was_running, ignore, truncate, paths
):
    if paths is not None and not members:
        raise l4d2.HostError("None of the chosen paths is in the backup")
    if was_running:
        if not l4d2.warn_phase(spec, files, sink, cancel, hurry, config, "restart"):
            return 1
        sink(PHASE, "Stop")
        if code := l4d2.stop(spec, sink, config=config, warn=False):
            sink("system", "The server could not be stopped, so nothing was restored.")
            return code
    if cancel is not None and cancel.cancelled:
        sink("system", "Cancel requested: nothing was restored; the server's files are as they were.")
        return 1
    sink(PHASE, "Swap")
    matcher = archive.ignore_spec(ignore.splitlines())
    swap_in(files.install_dir, staging, members, truncate=truncate, ignore=matcher, sink=sink, paths=paths)
    return 0


def _start_again(spec, sink, config) -> int:
    sink(PHASE, "Start")
    code = l4d2.start(spec, sink, None, config=config)
    if code:
        sink("system", "The server did not come back up; see the lines above.")
    return code
