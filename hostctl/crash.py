"""Why a server died: its exit status and the last lines of its console, classified.

With `-norestart` srcds_run execs srcds_linux, so a segfault prints nothing: the
parent sees death by SIGSEGV (Popen's -11; 139 in a shell). The console still
tells the other failures apart (the signatures are in shared/reference/). When
the exit status is unknown (the worker restarted since it launched the server),
the console alone decides.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from hostctl import console
from hostctl.console import START_NOTE

SEGFAULT = "segfault"
PORT_IN_USE = "port_in_use"
MISSING_MAP = "missing_map"
MISSING_LIBRARY = "missing_library"
HOST_ERROR = "host_error"
UNKNOWN = "unknown"

TAIL_LINES = 50
MAX_LINE = 1000  # characters kept of one console line
_BLOCK = 8192
_MAX_TAIL_BYTES = 256 * 1024

# The first line srcds prints on every start: lines above the last one belong to
# an earlier life of the server and say nothing about this death.
# Where a run of srcds begins in console.log: srcds's own first line, and the note the
# panel writes before each start (l4d2.start, through srcds.mark_start).
START_MARKERS = ("Setting breakpad minidump AppID", START_NOTE)


@dataclass(frozen=True)
class Crash:
    kind: str  # one of the constants above
    detail: str  # a sentence for people: what happened, with the line that says so


def tail_lines(path: Path, count: int = TAIL_LINES) -> list[str]:
    """The last `count` lines of a text file, reading only its end (a console.log can be huge)."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            data, position = b"", end
            while position > 0 and data.count(b"\n") <= count and end - position < _MAX_TAIL_BYTES:
                step = min(_BLOCK, position)
                position -= step
                f.seek(position)
                data = f.read(step) + data
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if position > 0:
        lines = lines[1:]  # the first one is cut: its start is further up
    if lines and lines[-1] == "":
        lines.pop()
    return [console.shown(line)[:MAX_LINE] for line in lines[-count:]]


def describe_status(status: int | None) -> str:
    """An exit status in words: 'killed by SIGSEGV (signal 11)', 'exit status 1', ..."""
    if status is None:
        return "exit status unknown (the worker that started it has restarted since)"
    signum = -status if status < 0 else status - 128 if 128 < status < 160 else None
    if signum is not None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"killed by {name} (signal {signum})"
    return f"exit status {status}"


def classify(status: int | None, lines: list[str]) -> Crash:
    """The likeliest reason for a death with exit `status` (None: unknown) and console `lines`."""
    recent = _since_last_start(lines)
    how = describe_status(status)
    if status in (-signal.SIGSEGV, 128 + signal.SIGSEGV) or _find(recent, "Segmentation fault"):
        return Crash(SEGFAULT, f"srcds crashed with a segmentation fault ({how}).")
    line = _find(recent, "Couldn't allocate dedicated server UDP port", '"-strictportbind"')
    if line:
        return Crash(PORT_IN_USE, f"The game port is in use by another process: {line}")
    line = _find(recent, "No such map", "map load failed") or _find_all(recent, "Host_Error", ".bsp")
    if line:
        return Crash(MISSING_MAP, f"The map could not be loaded: {line}")
    line = _find(recent, "cannot open shared object file")
    if line:
        return Crash(MISSING_LIBRARY, f"A library is missing: {line}")
    line = _find(recent, "Host_Error")
    if line:
        return Crash(HOST_ERROR, f"srcds stopped on an engine error: {line}")
    return Crash(UNKNOWN, f"The process ended without a known crash message ({how}).")


def _since_last_start(lines: list[str]) -> list[str]:
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(START_MARKERS):
            return lines[i:]
    return lines


def _find(lines: list[str], *needles: str) -> str | None:
    """The last line containing any of `needles`."""
    for line in reversed(lines):
        if any(needle in line for needle in needles):
            return line.strip()
    return None


def _find_all(lines: list[str], *needles: str) -> str | None:
    """The last line containing all of `needles`."""
    for line in reversed(lines):
        if all(needle in line for needle in needles):
            return line.strip()
    return None
