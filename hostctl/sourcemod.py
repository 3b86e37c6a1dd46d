"""SourceMod and MetaMod:Source on a server: install, update and remove (the `sourcemod` job).

Where they come from (reference/sourcemod-and-workshop.md): each branch's drop directory
names its latest Linux build in a one-line file (`<drop>/<branch>/sourcemod-latest-linux`,
`mmsource-latest-linux`), and the tarball sits beside it. Both unpack into `left4dead2/`.
AlliedModders publishes no checksums for these drops: the panel checks that what arrived is
a gzip tarball of the expected layout with safe paths, and records its sha256 in the
manifest and the job's log, so the owner can compare it with what they trust.

MetaMod is loaded by the game at startup (`addons/metamod.vdf`) and SourceMod by MetaMod:
a running server picks up an install, update or removal only when it restarts, which the
job says. Plugins and admins (changed through the files of a running SourceMod) are
reloaded through the console instead (`sm plugins refresh`, `sm_reloadadmins`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hostctl import download, mods, srcds
from hostctl.errors import HostError
from hostctl.process import PHASE, PROGRESS, CancelToken, LineSink
from hostctl.spec import ServerSpec

METAMOD = mods.Mod(
    name="metamod",
    title="MetaMod:Source",
    top_dirs=frozenset({"addons"}),
    required=("addons/metamod.vdf", "addons/metamod/bin/"),
    keep=("addons/metamod/metaplugins.ini",),
)
SOURCEMOD = mods.Mod(
    name="sourcemod",
    title="SourceMod",
    top_dirs=frozenset({"addons", "cfg"}),
    required=("addons/metamod/sourcemod.vdf", "addons/sourcemod/bin/", "addons/sourcemod/plugins/"),
    keep=(
        "cfg/sourcemod/",
        "addons/sourcemod/configs/",
        "addons/sourcemod/plugins/",
        "addons/sourcemod/data/",
    ),
    movable=("addons/sourcemod/plugins/", "addons/sourcemod/plugins/disabled/"),
)
MODS = (METAMOD, SOURCEMOD)  # install order: SourceMod is a MetaMod plugin

# What the drops call their builds; a "latest" pointer naming anything else is refused.
ARCHIVE_NAMES = {
    "metamod": re.compile(r"mmsource-(\d+\.\d+\.\d+)-git(\d+)-linux\.tar\.gz"),
    "sourcemod": re.compile(r"sourcemod-(\d+\.\d+\.\d+)-git(\d+)-linux\.tar\.gz"),
}
LATEST = {"metamod": "mmsource-latest-linux", "sourcemod": "sourcemod-latest-linux"}
ACTIONS = ("install", "update", "remove")
DOWNLOADS = ".l4d2panel-download-"  # a run's temporary download directory, in the server's own

# Paths of the server's directory (the file relay's paths): the plugins and the admins.
GAME = "left4dead2"
PLUGINS = f"{GAME}/addons/sourcemod/plugins"
DISABLED = f"{PLUGINS}/disabled"
ADMINS = f"{GAME}/addons/sourcemod/configs/admins_simple.ini"
SMX_MAGIC = b"FFPS"  # a compiled plugin's first bytes (0x53504646, little-endian)


@dataclass(frozen=True)
class Sources:
    """Where the builds come from (settings L4D2_SOURCEMOD_URL/_BRANCH, L4D2_METAMOD_URL/_BRANCH)."""

    sourcemod_url: str = "https://sm.alliedmods.net/smdrop"
    sourcemod_branch: str = "1.12"
    metamod_url: str = "https://mms.alliedmods.net/mmsdrop"
    metamod_branch: str = "1.12"
    max_bytes: int = 200_000_000

    def drop(self, mod: mods.Mod) -> str:
        url, branch = (
            (self.sourcemod_url, self.sourcemod_branch)
            if mod is SOURCEMOD
            else (self.metamod_url, self.metamod_branch)
        )
        return f"{url.rstrip('/')}/{branch}"


def is_smx(head: bytes) -> bool:
    return head[:4] == SMX_MAGIC


def version_of(archive_name: str, mod: mods.Mod) -> str:
    match = ARCHIVE_NAMES[mod.name].fullmatch(archive_name)
    if not match:
        raise HostError(f"{archive_name!r} is not a Linux build of {mod.title}")
    return f"{match.group(1)}-git{match.group(2)}"


def installed(spec: ServerSpec) -> dict[str, mods.Installed | None]:
    """{"metamod": manifest or None, "sourcemod": ...} of the server."""
    game_dir = Path(spec.install_dir) / GAME
    if not game_dir.is_dir():
        return {mod.name: None for mod in MODS}
    with mods.GameDir(game_dir) as game:
        return {mod.name: mods.installed(game, mod) for mod in MODS}


def run(
    spec: ServerSpec,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    params: dict,
    sources: Sources,
) -> int:
    """The `sourcemod` job: params {"action": "install" | "update" | "remove"}."""
    action = params.get("action")
    if action not in ACTIONS:
        raise HostError(f"Unknown SourceMod action {action!r}: use one of {', '.join(ACTIONS)}")
    with mods.GameDir(Path(spec.install_dir) / GAME) as game:
        present = {mod.name: mods.installed(game, mod) for mod in MODS}
        if action == "remove":
            return _remove(game, sink, present, spec)
        if action == "install" and all(present.values()):
            raise HostError(
                "SourceMod and MetaMod:Source are already installed: use Update to get newer builds"
            )
        if action == "update" and not any(present.values()):
            raise HostError("SourceMod is not installed: use Install")
        for stale in Path(spec.install_dir).glob(f"{DOWNLOADS}*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a worker killed mid-download
        with tempfile.TemporaryDirectory(dir=spec.install_dir, prefix=DOWNLOADS) as temp:
            for step, mod in enumerate(MODS):
                if action == "install" and present[mod.name]:
                    sink("system", f"{mod.title} {present[mod.name].version} is installed already: kept.")
                    continue
                span = (step * 50, step * 50 + 50)
                _fetch_and_install(game, mod, Path(temp), sink, cancel, sources, span, present[mod.name])
    sink(PROGRESS, "100")
    _say_restart(spec, sink, "load the new files")
    return 0


def _fetch_and_install(game, mod, temp, sink, cancel, sources, span, before) -> None:
    sink(PHASE, f"{mod.title}")
    drop = sources.drop(mod)
    name = download.fetch_text(f"{drop}/{LATEST[mod.name]}").strip()
    version = version_of(name, mod)
    if before and before.version == version:
        sink("system", f"{mod.title} {version} is the latest build of its branch; checking its files anyway.")
    else:
        sink("system", f"Latest {mod.title} build: {version} ({name}).")
    archive = temp / name
    low, high = span
    sha = download.fetch_file(
        f"{drop}/{name}",
        archive,
        sink,
        cancel,
        max_bytes=sources.max_bytes,
        progress=(low, low + (high - low) * 4 // 5),
    )
    sink("system", f"sha256 {sha} ({name}; AlliedModders publishes no checksum to compare it with).")
    members = mods.verify(archive, mod)
    sink("system", f"{name}: a gzip tarball of {len(members)} entries, laid out as {mod.title} ships.")
    if cancel is not None and cancel.cancelled:
        raise HostError(f"Cancelled before {mod.title} was copied in: nothing of it was changed.")
    mods.install(game, mod, archive, members, version=version, sha256=sha, sink=sink)
    archive.unlink()
    sink(PROGRESS, str(high))


def _remove(game, sink, present, spec) -> int:
    if not any(present.values()):
        raise HostError("SourceMod and MetaMod:Source are not installed: there is nothing to remove")
    for mod in reversed(MODS):
        sink(PHASE, f"Remove {mod.title}")
        if not mods.remove(game, mod, sink):
            sink("system", f"{mod.title} was not installed by the panel: nothing to remove.")
    sink(PROGRESS, "100")
    _say_restart(spec, sink, "unload them")
    return 0


def _say_restart(spec: ServerSpec, sink: LineSink, what: str) -> None:
    if srcds.running(srcds.files_for(spec)):
        sink(
            "system", f"The server is running: restart it to {what} (the game loads MetaMod only at startup)."
        )
