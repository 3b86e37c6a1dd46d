"""Validation of user-supplied server settings and the server.cfg they produce.

Source cfg strings cannot escape a double quote, and a newline ends a command,
so a hostname keeps neither: `x" ; rcon_password "y` must stay one inert string.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from hostctl.errors import HostError

MAP_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MAX_HOSTNAME = 63  # srcds keeps 64 bytes including the terminator


def hostname(name: str, default: str) -> str:
    """`name` made safe to put between double quotes in a cfg file."""
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in name.replace('"', "″")
    )
    cleaned = " ".join(cleaned.split())[:MAX_HOSTNAME].strip()
    return cleaned or default


def validate(*, port: int, map_name: str, max_players: int) -> None:
    if not isinstance(port, int) or not 1024 <= port <= 65535:
        raise HostError(f"Port must be a number from 1024 to 65535, not {port!r}")
    if not MAP_NAME.match(map_name or ""):
        raise HostError(f"Map name {map_name!r} may only contain letters, digits and underscores")
    if not isinstance(max_players, int) or not 1 <= max_players <= 32:
        raise HostError(f"Max players must be from 1 to 32, not {max_players!r}")


def write(cfg_dir: Path, *, name: str) -> Path:
    cfg_dir.mkdir(parents=True, exist_ok=True)
    path = cfg_dir / "server.cfg"
    path.write_text(
        "// Written by hostctl from the server settings; edits are replaced on every start.\n"
        f'hostname "{name}"\n',
        encoding="utf-8",
    )
    return path
