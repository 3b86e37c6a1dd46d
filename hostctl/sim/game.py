"""Game state and console commands of the srcds simulator. Stdlib only.

`Game.execute(line)` runs one console line (the stdin console and RCON share it)
and returns what the command printed; commands that end the process raise
`Quit` or `Failure` for the process layer (srcds.py) to act on.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

if __package__:
    from .ticker import Ticker
else:  # run as a script, from srcds.py
    from ticker import Ticker

VERSION = "2.2.4.3"
ENGINE_BUILD = 9143
FAILURES = ("segfault", "hosterror", "library", "hang")

CAMPAIGNS = {
    1: "hotel streets mall atrium",
    2: "highway fairgrounds coaster barns concert",
    3: "plankcountry swamp shantytown plantation",
    4: "milltown_a sugarmill_a sugarmill_b milltown_b milltown_escape",
    5: "waterfront park cemetery quarter bridge",
    6: "riverbank bedlam port",
    7: "docks barge port",
    8: "apartment subway sewers interior rooftop",
    9: "alleys lots",
    10: "caves drainage ranchhouse mainstreet houseboat",
    11: "greenhouse offices garage terminal runway",
    12: "hilltop traintunnel bridge barn cornfield",
    13: "alpinecreek southpinestream memorialbridge cutthroatcreek",
    14: "junkyard lighthouse",
}
OFFICIAL_MAPS = frozenset(
    f"c{number}m{chapter}_{name}"
    for number, names in CAMPAIGNS.items()
    for chapter, name in enumerate(names.split(), 1)
)

# The cvars an owner sets in server.cfg: name -> (default, description).
CVARS = {
    "hostname": ("Left 4 Dead 2", "Hostname for server."),
    "rcon_password": ("", "remote console password."),
    "sv_password": ("", "Server password for entry into multiplayer games"),
    "mp_gamemode": ("coop", "Current game mode: coop, realism, versus, survival, scavenge"),
    "z_difficulty": ("Normal", "Difficulty of the current game (Easy, Normal, Hard, Impossible)"),
    "sv_tags": ("", "Server tags. Used to provide extra information to clients when they're browsing."),
    "sv_allow_lobby_connect_only": ("1", "If set, players may only join this server from matchmaking lobby."),
    "sv_steamgroup": ("", "The ID of the steam group that this server belongs to."),
    "sv_steamgroup_exclusive": ("0", "If set, only members of Steam group will be able to join the server."),
    "sv_search_key": ("", "When searching for a dedicated server from lobby, restrict search to this key"),
    "sv_region": ("-1", "The region of the world to report this server in."),
    "sv_lan": ("0", "Server is a lan server ( no heartbeat, no authentication, no non-class C addresses )"),
    "sv_cheats": ("0", "Allow cheats on server"),
    "sv_alltalk": ("0", "Players can hear all other players, no team restrictions"),
    "sv_consistency": ("1", "Whether the server enforces file consistency for critical files"),
    "motd_enabled": ("1", "If set to 1, the server will show the message of the day to clients"),
    "sv_logecho": ("1", "Echo log information to the console."),
    "sv_logfile": ("1", "Log server information in the log file."),
    "sv_rcon_log": ("1", "Enable/disable rcon logging."),
    "sv_rcon_minfailures": ("5", "Number of times a user can fail rcon authentication in "
                            "sv_rcon_minfailuretime before being banned"),
    "sv_rcon_minfailuretime": ("30", "Number of seconds to track failed rcon authentications"),
    "sv_rcon_whitelist_address": ("", "When set, rcon failed authentications will never ban this address"),
    "servercfgfile": ("server.cfg", ""),
}  # fmt: skip

# Who is on a fresh simulated server: (name, score, seconds connected before start).
DEFAULT_PLAYERS = (("Coachella", 12, 1843.0), ("witch_please", 7, 652.0), ("[TTV]Zoey", 0, 95.0))
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')


VPK_SIGNATURE = 0x55AA1234


def vpk_paths(path: Path) -> set[str]:
    """The file paths in a VPK's directory tree (format versions 1 and 2); empty if unreadable.

    The tree is extension, then path, then file name, each list ended by an empty string;
    every file has an 18-byte entry (its last field, 0xffff) and its preload bytes.
    """
    found: set[str] = set()
    try:
        with path.open("rb") as pak:
            signature, version, tree_size = struct.unpack("<3I", pak.read(12))
            if signature != VPK_SIGNATURE or version not in (1, 2):
                return found
            pak.seek(12 if version == 1 else 28)
            tree = pak.read(tree_size)
        at = 0

        def text() -> str:
            nonlocal at
            end = tree.index(b"\0", at)
            value, at = tree[at:end].decode("utf-8", "replace"), end + 1
            return value

        while ext := text():
            while folder := text():
                while name := text():
                    preload = struct.unpack_from("<H", tree, at + 4)[0]
                    at += 18 + preload
                    found.add(f"{folder.strip()}/{name}.{ext}".lower().lstrip("/"))
    except (OSError, ValueError, struct.error):
        pass
    return found


class Quit(Exception):
    """`quit` / `exit`: the server shuts down cleanly."""


class Failure(Exception):
    """`sim_crash <kind>` / `sim_hang`: the process layer fails in that way."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Player:
    name: str
    userid: int
    score: int = 0
    joined: float = field(default_factory=time.monotonic)
    bot: bool = False

    def duration(self) -> float:
        return time.monotonic() - self.joined

    @property
    def steam_id(self) -> str:
        number = zlib.crc32(self.name.encode())
        return f"STEAM_1:{number & 1}:{number >> 9}"

    @property
    def ping(self) -> int:
        return 30 + zlib.crc32(self.name.encode()) % 60


def split_commands(line: str) -> list[str]:
    """A console line is several commands separated by `;`; `//` starts a comment (outside quotes)."""
    commands, current, quoted = [], "", False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        if not quoted and line.startswith("//", i):
            break
        if ch == ";" and not quoted:
            commands.append(current)
            current = ""
        else:
            current += ch
    return [c.strip() for c in [*commands, current] if c.strip()]


def tokens(command: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _TOKEN.finditer(command)]


def players_from(spec: str | None, first_userid: int = 2) -> list[Player]:
    """`Ellis,Nick,BOT:Coach` -> players (a `BOT:` prefix makes a bot); None: the default cast."""
    now = time.monotonic()
    if spec is None:
        return [
            Player(name, first_userid + i, score, now - before)
            for i, (name, score, before) in enumerate(DEFAULT_PLAYERS)
        ]
    names = [name.strip() for name in spec.split(",") if name.strip()]
    return [
        Player(name.removeprefix("BOT:"), first_userid + i, bot=name.startswith("BOT:"))
        for i, name in enumerate(names)
    ]


class Game:
    def __init__(self, *, map_name: str, max_players: int, port: int, ip: str, insecure: bool, say) -> None:
        self.map_name = map_name
        self.max_players = max_players
        self.port = port
        self.ip = ip
        self.insecure = insecure
        self.say = say  # prints a console line that is not a command's output (logs, notices)
        self.version = VERSION
        self.cvars = {name: default for name, (default, _) in CVARS.items()}
        self.players = players_from(os.environ.get("HOSTCTL_SIM_PLAYERS"))
        self.logging = False
        self.ticker: Ticker | None = None  # `sim_tick`: numbered lines printed at a steady rate
        self.on_rcon_password_change = lambda: None
        account = zlib.crc32(f"{os.getpid()}:{port}".encode()) & 0x7FFFFFFF
        self.steam_id = f"[A:1:{account}:{port % 20000}]"
        self.steam_id64 = (1 << 56) | (4 << 52) | ((port % 20000) << 32) | account

    # --- cvars, maps, logging -------------------------------------------------

    def cvar(self, name: str) -> str:
        return self.cvars.get(name, "")

    def set_cvar(self, name: str, value: str) -> None:
        old, self.cvars[name] = self.cvars.get(name), value
        if name == "rcon_password" and value != old:
            self.on_rcon_password_change()  # srcds drops every RCON connection then

    def describe(self, name: str) -> list[str]:
        default, description = CVARS[name]
        value = self.cvars[name]
        line = f'"{name}" = "{value}"' + (f' ( def. "{default}" )' if value != default else "")
        return [line] + ([f" - {description}"] if description else [])

    def is_map(self, name: str) -> bool:
        # Like the engine, add-on VPKs in left4dead2/addons are mounted: their maps load too.
        return (
            name in OFFICIAL_MAPS
            or Path("left4dead2/maps", f"{name}.bsp").is_file()
            or any(f"maps/{name}.bsp" in vpk_paths(pak) for pak in Path("left4dead2/addons").glob("*.vpk"))
        )

    def log(self, text: str) -> None:
        """A server log line; echoed to the console like srcds with `log on` and sv_logecho 1."""
        if self.logging and self.cvar("sv_logecho") != "0":
            self.say(time.strftime("L %m/%d/%Y - %H:%M:%S: ") + text)

    def exec_cfg(self, name: str) -> list[str]:
        path = Path("left4dead2/cfg") / name
        if "/" in name or ".." in name or not path.is_file():
            return [f"exec: couldn't exec {name}"]
        output: list[str] = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            output += self.execute(line)
        return output

    def start_map(self) -> list[str]:
        """What srcds does on every map start: exec the dedicated server config again."""
        cfg = self.cvar("servercfgfile")
        return [f"Executing dedicated server config file {cfg}", *self.exec_cfg(cfg)]

    # --- commands ---------------------------------------------------------------

    def execute(self, line: str) -> list[str]:
        output: list[str] = []
        for command in split_commands(line):
            words = tokens(command)
            if words:
                output += self.run(words[0].lower(), words[1:], command)
        return output

    def run(self, name: str, args: list[str], command: str) -> list[str]:
        if name in self.cvars:
            if not args:
                return self.describe(name)
            self.set_cvar(name, args[0])
            return []
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            return [f'Unknown command "{name}"']  # srcds quotes only the first word
        _, _, rest = command.partition(" ")
        return handler(args, rest.strip())

    def cmd_status(self, args, rest) -> list[str]:
        humans = [p for p in self.players if not p.bot]
        state = "(not hibernating)" if humans else "(hibernating)"
        public = self.ip if self.ip != "0.0.0.0" else "127.0.0.1"
        lines = [
            f"hostname: {self.cvar('hostname')}",
            f"version : {self.version} {ENGINE_BUILD} {'insecure' if self.insecure else 'secure'}  (unknown)",
            f"udp/ip  : {self.ip}:{self.port} [ public {public}:{self.port} ]",
            "os      : Linux Dedicated",
            f"map     : {self.map_name}",
            f"players : {len(humans)} humans, {len(self.players) - len(humans)} bots "
            f"({self.max_players} max) {state} (unreserved)",
            "",
            "# userid name uniqueid connected ping loss state rate",
        ]
        for slot, p in enumerate(self.players, 1):
            if p.bot:
                lines.append(f'#{p.userid:2d} "{p.name}" BOT active')
            else:
                minutes, seconds = divmod(int(p.duration()), 60)
                hours, minutes = divmod(minutes, 60)
                connected = f"{minutes:02d}:{seconds:02d}"
                connected = f"{hours}:{connected}" if hours else connected
                lines.append(
                    f'# {p.userid:2d} {slot} "{p.name}" {p.steam_id} {connected} {p.ping} 0 active 30000'
                )
        return [*lines, "#end"]

    def cmd_say(self, args, rest) -> list[str]:
        text = rest[1:-1] if len(rest) > 1 and rest[0] == rest[-1] == '"' else rest
        self.log(f'"Console<0><Console><Console>" say "{text}"')
        return [f"Console: {text}"]

    def cmd_echo(self, args, rest) -> list[str]:
        return [" ".join(args)]

    def cmd_changelevel(self, args, rest) -> list[str]:
        if not args:
            return ["changelevel <levelname> : continue game on a new level"]
        if not self.is_map(args[0]):
            return [
                f"CModelLoader::Map_IsValid:  No such map 'maps/{args[0]}.bsp'",
                f"changelevel failed: {args[0]} not found",
            ]
        self.map_name = args[0]
        return self.start_map()

    cmd_map = cmd_changelevel

    def cmd_exec(self, args, rest) -> list[str]:
        return self.exec_cfg(args[0]) if args else ["exec <filename>: execute a script file"]

    def cmd_log(self, args, rest) -> list[str]:
        if not args:
            return [f"Server logging is currently {'enabled' if self.logging else 'disabled'}."]
        self.logging = args[0].lower() in ("on", "1")
        return [f"Server logging {'enabled' if self.logging else 'disabled'}."]

    def cmd_quit(self, args, rest) -> list[str]:
        raise Quit

    cmd_exit = cmd_quit

    # --- simulator controls (not srcds commands) ---------------------------------

    def cmd_sim_players(self, args, rest) -> list[str]:
        """`sim_players a,b,BOT:c` sets who is on the server; `sim_players` alone empties it."""
        had_humans = any(not p.bot for p in self.players)
        first = max((p.userid for p in self.players), default=1) + 1
        self.players = players_from(rest.strip().strip('"'), first)
        if had_humans and not any(not p.bot for p in self.players):
            return ["Server is hibernating"]
        return []

    def cmd_sim_crash(self, args, rest) -> list[str]:
        if not args or args[0] not in FAILURES:
            return [f"sim_crash <{'|'.join(FAILURES)}>"]
        raise Failure(args[0])

    def cmd_sim_hang(self, args, rest) -> list[str]:
        raise Failure("hang")

    def cmd_sim_tick(self, args, rest) -> list[str]:
        """`sim_tick <lines/s> [count]`: print `tick <n> <unix time>` lines (count 0: until `sim_tick 0`)."""
        try:
            rate, count = float(args[0]) if args else 0.0, int(args[1]) if len(args) > 1 else 0
        except ValueError:
            return ["sim_tick <lines per second> [count]"]
        self.ticker = Ticker(rate, count) if rate > 0 else None
        return []

    def cmd_sim_update_available(self, args, rest) -> list[str]:
        return update_notice()


def update_notice() -> list[str]:
    """What srcds prints when Steam tells it that a newer build is out."""
    return [
        "MasterRequestRestart",
        "Your server needs to be restarted in order to receive the latest update.",
    ]
