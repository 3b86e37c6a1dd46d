"""Where a game server's processes live: outside the worker's cgroup when systemd runs the host.

Under systemd, everything the worker starts sits in the worker unit's cgroup, and
stopping the unit (every panel upgrade) kills the whole cgroup, game servers
included. `systemd-run --scope` starts srcds in a scope unit of its own instead:
it is still our child (systemd-run execs it in place, so its console, output and
exit status stay ours), but systemd no longer counts it as the worker's.
A worker running as an ordinary user uses its user manager (`--user`; the user
needs lingering: `loginctl enable-linger l4d2`). Where systemd does not run the
host, or the probe fails, servers start in a detached session as before.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.spec import ServerSpec

SYSTEMD_RUNTIME = Path("/run/systemd/system")  # exists exactly when systemd is the init system


def systemd_present() -> bool:
    return SYSTEMD_RUNTIME.is_dir() and shutil.which("systemd-run") is not None


def _base(user: bool) -> list[str]:
    return ["systemd-run", *(["--user"] if user else []), "--scope", "--quiet", "--collect"]


@functools.cache
def probe(user: bool) -> str | None:
    """None if `systemd-run --scope` works here, else why not (checked once per process)."""
    try:
        run = subprocess.run([*_base(user), "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if run.returncode == 0 else (run.stderr.strip() or f"exit code {run.returncode}")


def prefix(spec: ServerSpec, config: HostConfig) -> list[str]:
    """What goes before srcds_run's argv: a systemd scope, or nothing (a detached session).

    config.server_scope: "auto" (a scope where systemd can give one), "systemd"
    (a scope or a clear error), "off" (never).
    """
    if config.server_scope == "off":
        return []
    user = os.geteuid() != 0
    why_not = "systemd does not run this host" if not systemd_present() else probe(user)
    if why_not is None:
        unit = f"l4d2-server-{spec.id}-{secrets.token_hex(3)}"
        return [*_base(user), f"--unit={unit}", "--"]
    if config.server_scope == "systemd":
        raise HostError(f"Cannot start the server in its own systemd scope: {why_not}")
    return []
