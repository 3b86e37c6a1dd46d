"""The everyday cvars an owner sets and the "extra cfg" lines, checked before they reach server.cfg.

The panel checks them when they are typed (its form calls these functions) and
hostctl checks them again when it writes server.cfg, so nothing that skipped the
form (the admin, a script, an old row) can turn a value into a command: a cfg
line is `name value`, and a quote, a semicolon or a line break in a value would
start another command (`x" ; rcon_password "y`).
"""

from __future__ import annotations

import re

from hostctl import cmdline, unsafe
from hostctl.errors import HostError

GAMEMODES = ("coop", "versus", "survival", "scavenge", "realism")
DIFFICULTIES = ("Easy", "Normal", "Hard", "Impossible")
# sv_region: where the master server lists the server (-1: the whole world).
REGIONS = {
    -1: "World",
    0: "US East",
    1: "US West",
    2: "South America",
    3: "Europe",
    4: "Asia",
    5: "Australia",
    6: "Middle East",
    7: "Africa",
}
# The order server.cfg lists them in.
EVERYDAY = (
    "sv_password",
    "mp_gamemode",
    "z_difficulty",
    "sv_allow_lobby_connect_only",
    "sv_steamgroup",
    "sv_steamgroup_exclusive",
    "sv_region",
    "sv_tags",
    "motd_enabled",
)
MAX_EXTRA_LINES = 200
MAX_EXTRA_LINE = 255

_PASSWORD = re.compile(r"^[\x21\x23-\x3a\x3c-\x7e]{0,64}$")  # printable ASCII, no space, '"' or ';'
_STEAMGROUPS = re.compile(r"^(\d{1,20}(,\d{1,20}){0,9})?$")
_TAGS = re.compile(r"^([A-Za-z0-9_.\-]{1,32}(,[A-Za-z0-9_.\-]{1,32})*)?$")
_BOOL = {"0", "1"}

# Commands an extra cfg line may not run, by the reason why, on top of those the console
# refuses too (unsafe.py: stops, aliases, sm_rcon, VScript, entity I/O, log addresses...).
# server.cfg runs again at every map start, with the server's full rights.
RCON_PASSWORD = "the RCON password is the panel's: reveal or rotate it on the server page"
_FORBIDDEN_BY_REASON = {
    RCON_PASSWORD: ("rcon_password",),
    "the name is set on the server page": ("hostname",),
    "it runs another file": ("exec", "sm_execcfg"),
    "server.cfg runs at every map start: a map change there loops": (
        "map",
        "changelevel",
        "changelevel2",
        "sm_map",
    ),
    "it loads native code or plugins": ("plugin_load", "plugin_unload", "meta", "sm"),
    "it writes a file": ("con_logfile", "host_writeconfig", "writeid", "writeip"),
    "it delays the commands after it": ("wait",),
}
FORBIDDEN = {name: reason for reason, names in _FORBIDDEN_BY_REASON.items() for name in names}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_TOKEN = re.compile(r'"([^"]*)"|([^\s"]+)')
_WHOLE_TOKENS = re.compile(r'\s*("[^"]*"|[^\s"]+)(\s+("[^"]*"|[^\s"]+))*\s*')  # bare, or all in quotes


class CfgError(HostError):
    """A setting that cannot go into server.cfg; the message says why."""


def check(name: str, value) -> str:
    """The cfg text of an everyday cvar's value; CfgError if it is not a valid value."""
    text = str(value)
    if name == "sv_password":
        if not _PASSWORD.match(text):
            raise CfgError("Use up to 64 printable ASCII characters, without spaces, quotes or semicolons.")
    elif name == "mp_gamemode":
        if text not in GAMEMODES:
            raise CfgError(f"Choose one of {', '.join(GAMEMODES)}.")
    elif name == "z_difficulty":
        if text not in DIFFICULTIES:
            raise CfgError(f"Choose one of {', '.join(DIFFICULTIES)}.")
    elif name in ("sv_allow_lobby_connect_only", "sv_steamgroup_exclusive", "motd_enabled"):
        text = {"True": "1", "False": "0"}.get(text, text)
        if text not in _BOOL:
            raise CfgError("Use 0 or 1.")
    elif name == "sv_steamgroup":
        if not _STEAMGROUPS.match(text):
            raise CfgError("Use Steam group IDs (numbers), separated by commas, at most 10.")
    elif name == "sv_region":
        if not text.lstrip("-").isdigit() or int(text) not in REGIONS:
            raise CfgError(f"Use one of {', '.join(map(str, REGIONS))}.")
    elif name == "sv_tags":
        if len(text) > 128 or not _TAGS.match(text):
            raise CfgError("Use tags of letters, digits, '_', '.' or '-', separated by commas (128 at most).")
    else:
        raise CfgError(f"{name} is not one of the settings the panel manages.")
    return text


def extra_line_error(line: str) -> str | None:
    """Why one "extra cfg" line may not go into server.cfg, or None if it may."""
    if len(line) > MAX_EXTRA_LINE:
        return f"longer than {MAX_EXTRA_LINE} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in line):
        return "control characters are not allowed"
    if ";" in line:
        # Not even in a comment or a quoted value: the 2013 SDK's srcds ends nothing at a
        # ';' in a comment, but not every reader of the file is that srcds.
        return "one command per line: ';' is not allowed, not even in a comment"
    if "rcon_password" in line.lower():  # anywhere, in any case: sm_cvar, a comment, a quoted word
        return f"rcon_password is not allowed here: {RCON_PASSWORD}"
    [code] = cmdline.split(line) or [""]  # without its comment, as srcds reads it
    if not code.strip():
        return None
    if "\\" in code:
        return "backslashes are not allowed"
    if code.count('"') % 2:
        return "a quote is not closed"
    argv = cmdline.words(code)
    if refused := unsafe.refusal(argv):
        name, reason = refused
        return f"{name} is not allowed here: {reason}"
    # sm_cvar (and the like) set the cvar named next: the same rules hold for it.
    for name in [argv[0].lower(), *unsafe.cvars_set(argv)]:
        if name in FORBIDDEN:
            return f"{name} is not allowed here: {FORBIDDEN[name]}"
        if name in EVERYDAY:
            return f"{name} has its own field above"
    if not _WHOLE_TOKENS.fullmatch(code):
        return "quotes may only surround a whole value"
    tokens = [
        match.group(1) if match.group(1) is not None else match.group(2) for match in _TOKEN.finditer(code)
    ]
    if tokens[0] != argv[0] or not _NAME.match(argv[0]):
        return f"{tokens[0][:40]!r} is not a command or cvar name"
    for token in tokens[1:]:
        if token.startswith(("/", "~")) or ".." in token or re.match(r"^[A-Za-z]:", token):
            return "absolute paths and '..' are not allowed"
    return None


def extra_errors(text: str) -> list[tuple[int, str]]:
    """(line number, reason) for every line of an "extra cfg" that may not go into server.cfg."""
    lines = text.splitlines()
    errors = [(n, reason) for n, line in enumerate(lines, 1) if (reason := extra_line_error(line))]
    if len(lines) > MAX_EXTRA_LINES:
        errors.append((MAX_EXTRA_LINES + 1, f"at most {MAX_EXTRA_LINES} lines"))
    return errors
