"""The server.cfg hostctl writes at every start, from the server's settings (ServerSpec).

Source cfg strings cannot escape a double quote, and a newline ends a command,
so a hostname keeps neither: `x" ; rcon_password "y` must stay one inert string.
Every value is checked again here (cvars.py), whatever the caller checked before.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from hostctl import cvars
from hostctl.console import MASK
from hostctl.errors import HostError
from hostctl.spec import ServerSpec

MAP_NAME = re.compile(r"^[A-Za-z0-9_]+$")
MAX_HOSTNAME = 63  # srcds keeps 64 bytes including the terminator
RCON_PASSWORD = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")  # what servers.models.new_rcon_password makes
HEADER = "// Written by hostctl from the server settings; edits are replaced on every start."
EXTRA_HEADER = "// Extra cfg from the server settings page"


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


def render(spec: ServerSpec, *, mask_rcon: bool = False) -> str:
    """The text of server.cfg for `spec`; CfgError if a setting is not valid.

    `mask_rcon`: the RCON password as a mask, for showing the file to people.
    """
    name = hostname(spec.name, default=f"L4D2 server {spec.id}")
    lines = [HEADER, f'hostname "{name}"']
    if spec.rcon_password:
        if not RCON_PASSWORD.match(spec.rcon_password):
            # Never echo the value: this message can end up in a job log.
            raise cvars.CfgError("The RCON password is not one the panel generated; rotate it.")
        lines.append(f'rcon_password "{MASK if mask_rcon else spec.rcon_password}"')
    values = dict(spec.cvars)
    for cvar in cvars.EVERYDAY:
        if cvar in values:
            text = cvars.check(cvar, values.pop(cvar))
            lines.append(f'{cvar} "{text}"')
    if values:
        raise cvars.CfgError(f"{', '.join(sorted(values))} is not one of the settings the panel manages.")
    # Log to the console too, so RCON commands and chat show up in the panel's console.
    lines += ["log on", 'sv_logecho "1"']
    if spec.extra_cfg.strip():
        errors = cvars.extra_errors(spec.extra_cfg)
        if errors:
            number, reason = errors[0]
            raise cvars.CfgError(f"Extra cfg line {number}: {reason}")
        lines += [EXTRA_HEADER, *spec.extra_cfg.splitlines()]
    return "\n".join(lines) + "\n"


def write(cfg_dir: Path, text: str) -> Path:
    cfg_dir.mkdir(parents=True, exist_ok=True)
    path = cfg_dir / "server.cfg"
    # Only its owner may read it: it holds the RCON password.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file may have been created more open
    with open(fd, "w", encoding="utf-8") as cfg:
        cfg.write(text)
    return path
