"""What a lifecycle call is told about a server (ServerSpec) and what status() reports (ServerStatus)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
