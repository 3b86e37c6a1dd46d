"""The Steam Workshop items the simulators know: steam_web.py serves their details and files,
steamcmd.py's `+workshop_download_item 550 <id>` lays them out.

Each item's file is a real VPK (made with the `vpk` library, as a Workshop author's
vpk.exe would) carrying `maps/<map>.bsp` and `missions/<name>.txt` for its campaign.
Run with the panel's Python: the `vpk` library is one of its requirements.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import vpk


@dataclass(frozen=True)
class SimItem:
    id: str
    title: str
    maps: tuple[str, ...] = ()
    file_url: bool = True  # False: the API gives no file_url, steamcmd must fetch it
    private: bool = False  # the API answers result 9, steamcmd "Access Denied"
    slow_api: bool = False  # the API takes SLOW_API_SECONDS to answer about it
    slow_file: bool = False  # its file is served in small pieces with pauses
    steamcmd_timeout: bool = False  # steamcmd times out downloading it
    time_updated: int = 1700000000

    @property
    def name(self) -> str:
        """The campaign's short name (the missions file's and the legacy file's)."""
        return self.maps[0].split("_")[0] if self.maps else f"item{self.id}"


SLOW_API_SECONDS = 3.0
COLLECTION = "3000000100"  # a collection of the three campaigns
ITEMS = {
    item.id: item
    for item in (
        SimItem("3000000001", "Sim Campaign One", ("simone_m1", "simone_m2")),
        SimItem("3000000002", "Sim Campaign Two", ("simtwo_m1", "simtwo_m2", "simtwo_m3")),
        SimItem("3000000003", "Sim Campaign Three", ("simthree_m1", "simthree_m2"), file_url=False),
        SimItem("3000000006", "Sim Timeout", ("simtimeout_m1",), file_url=False, steamcmd_timeout=True),
        SimItem("3000000007", "Sim Big Campaign", ("simbig_m1",), slow_file=True),
        SimItem("3000000008", "Sim Slow Answer", ("simslow_m1",), slow_api=True),
        SimItem("3000000009", "Sim Private", private=True),
    )
}
CHILDREN = {COLLECTION: ("3000000001", "3000000002", "3000000003")}
BIG_PADDING = 4 * 1024 * 1024  # the slow item's VPK carries this much filler


def missions_text(item: SimItem) -> str:
    """missions/<name>.txt as L4D2 campaign authors write it (KeyValues)."""
    chapters = "".join(
        f'\t\t\t"{number}"\n\t\t\t{{\n\t\t\t\t"Map"\t"{name}"\n'
        f'\t\t\t\t"DisplayName"\t"Chapter {number}"\n\t\t\t}}\n'
        for number, name in enumerate(item.maps, 1)
    )
    return (
        f'"mission"\n{{\n\t"Name"\t"{item.name}"\n\t"Version"\t"1"\n\t"Author"\t"Simulator"\n'
        f'\t"DisplayTitle"\t"{item.title}"\n\t"modes"\n\t{{\n\t\t"coop"\n\t\t{{\n{chapters}\t\t}}\n\t}}\n}}\n'
    )


def vpk_bytes(item: SimItem) -> bytes:
    """The item's VPK, built afresh (a few KB; BIG_PADDING more for the slow one)."""
    with tempfile.TemporaryDirectory(prefix="simvpk-") as tmp:
        root = Path(tmp) / "content"
        (root / "maps").mkdir(parents=True)
        (root / "missions").mkdir()
        for name in item.maps:
            # A BSP starts with "VBSP" and its version (21 for L4D2); the rest does not matter here.
            (root / "maps" / f"{name}.bsp").write_bytes(b"VBSP\x15\x00\x00\x00" + name.encode() * 64)
        (root / "missions" / f"{item.name}.txt").write_text(missions_text(item))
        if item.slow_file:
            (root / "materials").mkdir()
            (root / "materials" / "filler.vtf").write_bytes(random.Random(item.id).randbytes(BIG_PADDING))
        out = Path(tmp) / "out.vpk"
        vpk.new(str(root)).save(str(out))
        return out.read_bytes()
