"""What an add-on VPK carries for the map choice: its maps and the campaigns they make.

An L4D2 add-on is a VPK (Valve's pack file, read with the `vpk` library); its maps are
`maps/<name>.bsp` entries and each campaign is a `missions/<name>.txt` KeyValues file
naming the campaign ("DisplayTitle") and its chapters' maps in order (modes/coop/1/Map).
Everything here comes from a stranger's file: names are checked before anyone uses them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import vdf
import vpk

from hostctl.errors import HostError

# What the panel accepts as a map name (servercfg.validate checks it again at start).
MAP_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MISSION_MAX_BYTES = 256 * 1024  # a real missions file is a few KB
TITLE_MAX = 100
# The mode whose chapter list names the campaign's maps; the others list the same maps.
MODES = ("coop", "versus", "survival", "scavenge", "realism")


class NotAVpk(HostError):
    """The file is not a VPK the game could load."""


@dataclass(frozen=True)
class Campaign:
    title: str
    maps: tuple[str, ...]


@dataclass(frozen=True)
class Contents:
    maps: tuple[str, ...] = ()  # every maps/*.bsp, sorted
    campaigns: tuple[Campaign, ...] = field(default_factory=tuple)


def read(path: Path) -> Contents:
    """The maps and campaigns of the VPK at `path`; NotAVpk if it is not one."""
    try:
        pak = vpk.open(str(path))
        entries = list(pak)
        names = {PurePosixPath(e).stem for e in entries if _is_map(e)}
        maps = sorted(name for name in names if MAP_NAME.match(name))
        campaigns = []
        for entry in sorted(e for e in entries if _is_mission(e)):
            campaign = _campaign(pak.get_file(entry), fallback=PurePosixPath(entry).stem)
            if campaign is not None:
                campaigns.append(campaign)
    except (ValueError, KeyError, AssertionError, struct.error, UnicodeDecodeError, OSError) as exc:
        raise NotAVpk(f"{path.name} is not a VPK the game could load ({exc})") from None
    return Contents(maps=tuple(maps), campaigns=tuple(campaigns))


def _is_map(entry: str) -> bool:
    parts = PurePosixPath(entry.lower()).parts
    return len(parts) == 2 and parts[0] == "maps" and parts[1].endswith(".bsp")


def _is_mission(entry: str) -> bool:
    parts = PurePosixPath(entry.lower()).parts
    return len(parts) == 2 and parts[0] == "missions" and parts[1].endswith(".txt")


def _campaign(entry, *, fallback: str) -> Campaign | None:
    """The campaign a missions file describes, or None if it cannot be read."""
    if entry.length > MISSION_MAX_BYTES:
        return None
    text = entry.read().decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        mission = _lower_keys(vdf.loads(text)).get("mission")
    except SyntaxError:
        return None
    if not isinstance(mission, dict):
        return None
    title = str(mission.get("displaytitle") or mission.get("name") or fallback).strip()[:TITLE_MAX]
    modes = mission.get("modes") if isinstance(mission.get("modes"), dict) else {}
    for mode in MODES:
        chapters = modes.get(mode)
        if isinstance(chapters, dict):
            maps = tuple(
                chapter["map"]
                for _number, chapter in sorted(
                    ((k, v) for k, v in chapters.items() if k.isdigit() and isinstance(v, dict)),
                    key=lambda kv: int(kv[0]),
                )
                if isinstance(chapter.get("map"), str) and MAP_NAME.match(chapter["map"])
            )
            if maps:
                return Campaign(title=title or fallback, maps=maps)
    return None


def _lower_keys(node):
    """KeyValues keys are case-insensitive ("Map", "map", "MAP" all occur in the wild)."""
    if isinstance(node, dict):
        return {str(k).lower(): _lower_keys(v) for k, v in node.items()}
    return node
