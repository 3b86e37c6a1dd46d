"""MetaMod:Source and SourceMod as the srcds simulator loads them. Stdlib only.

Like the real game, the simulator loads them once, at startup, from its directory:
MetaMod when `left4dead2/addons/metamod.vdf` and its binaries are there, SourceMod when
MetaMod is loaded and `addons/metamod/sourcemod.vdf` and SourceMod's binaries are there.
The versions are read from the binaries (the fake AlliedModders host stamps them in).
Then `meta version`, `sm version`, `sm plugins list|refresh` and `sm_reloadadmins` answer
as theirs do; without them, srcds answers `Unknown command "sm"`.
"""

from __future__ import annotations

import re
from pathlib import Path

ADDONS = Path("left4dead2/addons")
_STAMP = re.compile(rb"(SourceMod|Metamod:Source) ([\w.+-]+)\x00")


def _stamp(binary: Path) -> str | None:
    """The version the fake host stamped in; a real build (downloaded from AlliedModders for
    real) loads too, its version unread; a missing binary does not load."""
    try:
        match = _STAMP.search(binary.read_bytes()[:200])
    except OSError:
        return None
    return match.group(2).decode() if match else "(a real build)"


class Loaded:
    def __init__(self, root: Path) -> None:
        self.addons = root / ADDONS
        self.metamod = None
        self.sourcemod = None
        if (self.addons / "metamod.vdf").is_file():
            self.metamod = _stamp(self.addons / "metamod/bin/metamod.2.l4d2.so")
        if self.metamod and (self.addons / "metamod/sourcemod.vdf").is_file():
            self.sourcemod = _stamp(self.addons / "sourcemod/bin/sourcemod.logic.so")
        self.plugins = self._plugins()

    def _plugins(self) -> list[str]:
        folder = self.addons / "sourcemod/plugins"
        return sorted(p.stem for p in folder.glob("*.smx")) if self.sourcemod else []

    def run(self, name: str, args: list[str]) -> list[str] | None:
        """The command's output, or None if it is not one of theirs (or they are not loaded)."""
        if name == "meta" and self.metamod:
            return self.meta(args)
        if name == "sm" and self.sourcemod:
            return self.sm(args)
        if name == "sm_reloadadmins" and self.sourcemod:
            return ["[SM] Admin cache has been refreshed."]
        return None

    def meta(self, args: list[str]) -> list[str]:
        if args[:1] == ["version"]:
            return [
                " Metamod:Source Version Information",
                f"    Metamod:Source version {self.metamod}",
                "    Plugin interface version: 16:14",
                "    SourceHook version: 5:5",
                "    Loaded As: Valve Server Plugin",
                f"    Build ID: {self.metamod.rpartition('+')[2]}:0d6c4e2",
                "    http://www.metamodsource.net/",
            ]
        if args[:1] == ["list"]:
            loaded = ["Listing 1 plugin:", f"  [01] SourceMod ({self.sourcemod}) by AlliedModders LLC"]
            return loaded if self.sourcemod else ["No plugins loaded."]
        return [
            "Metamod:Source Menu",
            "usage: meta <command> [arguments]",
            "  list       - Lists plugins",
            "  version    - Version information",
        ]

    def sm(self, args: list[str]) -> list[str]:
        if args[:1] == ["version"]:
            return [
                " SourceMod Version Information:",
                f"    SourceMod Version: {self.sourcemod}",
                f"    SourcePawn Engine: {self.sourcemod}, jit-x86 (build {self.sourcemod})",
                "    SourcePawn API: v1 = 5, v2 = 16",
                "    http://www.sourcemod.net/",
            ]
        if args[:2] == ["plugins", "list"]:
            lines = [f"[SM] Listing {len(self.plugins)} plugins:"]
            return lines + [
                f'  {i:02d} "{name}" ({self.sourcemod}) by AlliedModders LLC'
                for i, name in enumerate(self.plugins, 1)
            ]
        if args[:2] == ["plugins", "refresh"]:
            self.plugins = self._plugins()
            return ["[SM] The plugin list has been refreshed and reloaded."]
        return [
            "[SM] Usage: sm <command> [arguments]",
            "    plugins          - Manage Plugins",
            "    version          - Display version information",
        ]
