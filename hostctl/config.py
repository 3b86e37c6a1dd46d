"""Host settings: where installs live, which steamcmd to run, simulate mode."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def _flag(value: str | None, default: bool) -> bool:
    return default if value is None else value.strip().lower() in _TRUE


@dataclass(frozen=True)
class HostConfig:
    root: Path
    steamcmd: str | None
    simulate: bool
    sim_seconds: float = 20
    stop_grace: float = 5
    platform_workaround: bool = True
    start_timeout: float = 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> HostConfig:
        return cls(
            root=Path(environ.get("HOSTCTL_ROOT", "./data/servers")),
            steamcmd=environ.get("HOSTCTL_STEAMCMD", "steamcmd"),
            simulate=_flag(environ.get("HOSTCTL_SIMULATE"), False),
            sim_seconds=float(environ.get("HOSTCTL_SIM_SECONDS", 20)),
            stop_grace=float(environ.get("HOSTCTL_STOP_GRACE", 5)),
            platform_workaround=_flag(environ.get("HOSTCTL_PLATFORM_WORKAROUND"), True),
        )
