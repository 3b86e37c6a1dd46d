"""What a lifecycle call is told about a server (ServerSpec) and what status() reports (ServerStatus)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServerSpec:
    id: int
    install_dir: Path
    port: int
    map: str = "c1m1_hotel"
    max_players: int = 8
    name: str = ""
    # server.cfg: the RCON password, the everyday cvars as (name, value) pairs and
    # the owner's extra lines; servercfg.render checks them all again.
    rcon_password: str = field(default="", repr=False)  # never in a repr that reaches a log
    cvars: tuple[tuple[str, str], ...] = ()
    extra_cfg: str = ""
    # The newest public build the panel has heard of ("" unknown): an update that knows it is
    # behind need not ask steamcmd again before downloading.
    latest_build: str = ""


@dataclass(frozen=True)
class ServerStatus:
    state: str  # "not_installed" | "stopped" | "running" | "crashed"
    name: str | None = None
    map: str | None = None
    players: int | None = None
    max_players: int | None = None
    pid: int | None = None
