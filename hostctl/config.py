"""Host settings: where installs live, which steamcmd to run, simulate mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hostctl.console import ROTATE_BYTES


@dataclass(frozen=True)
class HostConfig:
    root: Path
    steamcmd: str | None
    simulate: bool
    sim_seconds: float = 20
    stop_grace: float = 5
    platform_workaround: bool = True
    start_timeout: float = 30
    server_scope: str = "auto"  # game servers in a systemd scope of their own: auto, systemd or off
    warning_seconds: float = 60  # players' warning before a running server restarts, stops or updates
    console_log_max_bytes: int = ROTATE_BYTES  # a server's console.log on disk (logspace.py)
    steam_api_url: str = "https://api.steampowered.com"  # the Steam Web API (Workshop items)
    steam_api_timeout: float = 15  # seconds one Steam answer, or one pause in a download, may take
