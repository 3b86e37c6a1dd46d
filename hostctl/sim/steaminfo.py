"""Build numbers of the simulated Steam, shared by the steamcmd and srcds simulators. Stdlib only.

The latest build of app 222860 is read, in this order, from the file named by
HOSTCTL_SIM_LATEST_BUILD_FILE (if it exists: a test can raise it while things
run), from HOSTCTL_SIM_LATEST_BUILD, else DEFAULT_LATEST_BUILD.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

APP_ID = "222860"
DEFAULT_LATEST_BUILD = 9876543
_BUILDID = re.compile(r'^\s*"buildid"\s+"(\d+)"', re.MULTILINE)


def latest_build() -> int:
    path = os.environ.get("HOSTCTL_SIM_LATEST_BUILD_FILE")
    if path:
        try:
            return int(Path(path).read_text().strip())
        except (OSError, ValueError):
            pass
    return int(os.environ.get("HOSTCTL_SIM_LATEST_BUILD") or DEFAULT_LATEST_BUILD)


def manifest_path(install_dir: Path) -> Path:
    return Path(install_dir) / "steamapps" / f"appmanifest_{APP_ID}.acf"


def installed_build(install_dir: Path) -> int | None:
    """The buildid of the appmanifest in `install_dir`, or None without one."""
    try:
        match = _BUILDID.search(manifest_path(install_dir).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return int(match.group(1)) if match else None
