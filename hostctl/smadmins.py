"""SourceMod's `configs/admins_simple.ini`: Steam IDs, flags as words, and the panel's block.

Format (upstream's header and reference/sourcemod-and-workshop.md): one admin a line,
`"<identity>" "<immunity>:<flags>"` (or `"<flags>"`), an optional third field a password,
`//` starts a comment. The panel writes its admins between two marker comments and keeps
every other line as the owner wrote it: comments, admins by name or IP, groups (`@Full
Admins`), passwords. Lines it cannot read are reported with their line numbers, never
dropped; one of them inside the panel's block is moved out of it when the block is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# SourceMod's admin flags (admin_levels.cfg), as words people tick.
FLAGS = {
    "a": "reservation",
    "b": "generic",
    "c": "kick",
    "d": "ban",
    "e": "unban",
    "f": "slay",
    "g": "changemap",
    "h": "cvars",
    "i": "config",
    "j": "chat",
    "k": "vote",
    "l": "password",
    "m": "rcon",
    "n": "cheats",
    "o": "custom1",
    "p": "custom2",
    "q": "custom3",
    "r": "custom4",
    "s": "custom5",
    "t": "custom6",
    "z": "root",
}
LETTERS = {word: letter for letter, word in FLAGS.items()}
WORDS = tuple(FLAGS.values())

BEGIN = "// --- l4d2panel: the admins below are written by the panel (its Addons page); edit them there ---"
END = "// --- l4d2panel: end of the panel's admins ---"
MAX_IMMUNITY = 99999
MAX_NAME = 64
STEAM64_BASE = 76561197960265728

_STEAM2 = re.compile(r"STEAM_[0-5]:([01]):(\d{1,10})", re.IGNORECASE)
_STEAM3 = re.compile(r"\[?U:1:(\d{1,10})\]?", re.IGNORECASE)
_STEAM64 = re.compile(r"(?:https?://steamcommunity\.com/profiles/)?(7656119\d{10})/?", re.IGNORECASE)


class AdminError(ValueError):
    """Input the panel will not write, in words for the owner."""


def normalise_steam_id(text: str) -> str:
    """Any of `STEAM_0:1:123`, `[U:1:247]`, `76561197960265975` (or a profile URL) as `STEAM_1:Y:Z`,
    the form L4D2's own `status` shows; AdminError if it is none of them."""
    text = (text or "").strip()
    if match := _STEAM2.fullmatch(text):
        account = int(match.group(2)) * 2 + int(match.group(1))
    elif match := _STEAM3.fullmatch(text):
        account = int(match.group(1))
    elif match := _STEAM64.fullmatch(text):
        account = int(match.group(1)) - STEAM64_BASE
    else:
        raise AdminError(
            f"“{text}” is not a Steam ID: use STEAM_1:1:12345, [U:1:24691] or 76561197960290419."
        )
    if not 0 < account < 2**32:
        raise AdminError(f"“{text}” is not a Steam account's ID.")
    return f"STEAM_1:{account % 2}:{account // 2}"


def steam_id64(steam_id: str) -> int:
    match = _STEAM2.fullmatch(steam_id)
    return STEAM64_BASE + int(match.group(2)) * 2 + int(match.group(1))


@dataclass(frozen=True)
class Admin:
    steam_id: str
    flags: tuple[str, ...]  # words, in FLAGS order
    immunity: int = 0
    name: str = ""

    @classmethod
    def make(cls, steam_id, flags, immunity=0, name="") -> Admin:
        """Checked and normalised; AdminError saying what is wrong."""
        if isinstance(flags, str) or not all(isinstance(flag, str) for flag in flags or ()):
            raise AdminError('Flags are a list of words, such as ["kick", "ban"].')
        unknown = sorted(set(flags) - set(WORDS))
        if unknown:
            raise AdminError(f"Unknown flag {', '.join(unknown)}: use {', '.join(WORDS)}.")
        if not flags:
            raise AdminError("Tick at least one flag (root gives every permission).")
        try:
            immunity = int(immunity)
        except (TypeError, ValueError):
            raise AdminError("Immunity is a whole number (0: none).") from None
        if not 0 <= immunity <= MAX_IMMUNITY:
            raise AdminError(f"Immunity is between 0 and {MAX_IMMUNITY}.")
        name = (name or "").strip()
        if len(name) > MAX_NAME or any(ord(ch) < 32 or ch in '"\\' for ch in name) or "//" in name:
            raise AdminError(
                f"A name is at most {MAX_NAME} characters, without quotes, backslashes or line breaks."
            )
        ordered = tuple(word for word in WORDS if word in flags)
        return cls(normalise_steam_id(steam_id), ordered, immunity, name)

    def line(self) -> str:
        letters = "".join(LETTERS[word] for word in self.flags)
        comment = f"\t// {self.name}" if self.name else ""
        return f'"{self.steam_id}"\t"{self.immunity}:{letters}"{comment}'


@dataclass(frozen=True)
class Line:
    number: int
    text: str


@dataclass
class AdminsFile:
    """The file read: the panel's admins, the owner's lines (kept), and lines nobody can read."""

    before: list[str] = field(default_factory=list)  # lines above the block (or the whole file)
    after: list[str] = field(default_factory=list)
    admins: list[Admin] = field(default_factory=list)
    hand_written: list[Line] = field(default_factory=list)  # admin lines outside the block
    unreadable: list[Line] = field(default_factory=list)
    moved_out: list[str] = field(default_factory=list)  # unreadable lines of the block, kept below it

    def render(self, admins: list[Admin]) -> str:
        """The file with `admins` in the panel's block and everything else as it was."""
        before = list(self.before)
        if before and before[-1].strip():
            before.append("")
        block = [BEGIN, *(admin.line() for admin in admins), END]
        lines = before + block + self.moved_out + self.after
        return "\n".join(lines) + "\n"


def parse(text: str) -> AdminsFile:
    result = AdminsFile()
    lines = text.splitlines()
    begin = next((i for i, line in enumerate(lines) if line.strip() == BEGIN), None)
    end = next(
        (i for i, line in enumerate(lines) if line.strip() == END and begin is not None and i > begin), None
    )
    if begin is None or end is None:
        begin = end = len(lines)  # no block yet: the panel's goes at the end
        result.before = lines
    else:
        result.before, result.after = lines[:begin], lines[end + 1 :]
    for number, line in enumerate(lines, 1):
        inside = begin < number - 1 < end
        if begin <= number - 1 <= end and not inside:
            continue  # a marker
        kind, admin = _read(line)
        if kind == "admin" and inside and admin is not None:
            result.admins.append(admin)
        elif kind in ("admin", "other") and not inside:
            result.hand_written.append(Line(number, line))
        elif kind == "bad" or (inside and kind != "blank"):
            result.unreadable.append(Line(number, line))
            if inside:
                result.moved_out.append(line)
    return result


_TOKEN = re.compile(r'\s*(?:"([^"]*)"|([^\s"/]+))')


def _read(line: str) -> tuple[str, Admin | None]:
    """("blank" | "admin" | "other" | "bad", the admin if the panel can show it in its table)."""
    stripped = line.strip()
    if not stripped or stripped.startswith("//"):
        return "blank", None
    tokens, rest = [], stripped
    while rest and not rest.startswith("//"):
        match = _TOKEN.match(rest)
        if not match:
            return "bad", None
        tokens.append(match.group(1) if match.group(1) is not None else match.group(2))
        rest = rest[match.end() :].lstrip()
    comment = rest[2:].strip().replace('"', "").replace("\\", "") if rest.startswith("//") else ""
    if len(tokens) not in (2, 3):
        return "bad", None
    identity, permissions = tokens[0], tokens[1]
    immunity, _, flags = permissions.rpartition(":") if ":" in permissions else ("0", "", permissions)
    if not immunity.isdigit() or not flags:
        return "bad", None
    if len(tokens) == 3 or flags.startswith("@"):
        return "other", None  # a password or a group: SourceMod's, kept as written
    if any(letter not in FLAGS for letter in flags):
        return "bad", None
    try:
        words = [FLAGS[letter] for letter in dict.fromkeys(flags)]
        return "admin", Admin.make(identity, words, int(immunity), comment[:MAX_NAME])
    except AdminError:
        return "other", None  # a name or an IP: SourceMod's, kept as written


def describe(line: str) -> str:
    """A hand-written admin line in words, for the page ("" if it is not an admin line)."""
    kind, admin = _read(line)
    if admin is None:
        return ""
    return f"{admin.steam_id}: {', '.join(admin.flags)}" + (
        f", immunity {admin.immunity}" if admin.immunity else ""
    )
