"""Commands the panel never lets reach srcds, typed into the console or written to server.cfg.

Each is here because srcds, or SourceMod (which most L4D2 servers run), turns it into
a stop of the server behind the panel's back, into any command at all (out of sight of
this check), or into a leak of the RCON password. The extra cfg refuses more on top
(cvars.py); the console allows everything else, as srcds's own console would.
`argv` is one command as `cmdline.words` reads it.
"""

from __future__ import annotations

# Stopping or restarting is the panel's job (the Stop and Restart buttons): the
# supervisor would take a stop it did not ask for as a crash.
STOPS = {
    "quit": "it stops the server",
    "exit": "it stops the server",  # the same engine command as quit
    "killserver": "it shuts the server down",  # unloads the map: players dropped, the process idles
    "_restart": "it restarts the server behind the panel's back",  # srcds exits, for srcds_run to start it
    "restart": "it restarts the server behind the panel's back",
    # CS:GO's "shut down once empty", of the same engine branch; harmless where L4D2 lacks it.
    "sv_shutdown": "it stops the server",
}
_BY_NAME = {
    "alias": "an alias can hide any command",
    # The engine's RCON client (where srcds has one): its arguments run on the server
    # rcon_address names, this one included.
    "rcon": "it runs its arguments as a command",
    # SourceMod's basecommands.sp: ServerCommand("%s", args) for the server console.
    "sm_rcon": "it runs its arguments as a server command; type the command itself",
    # srcds runs `exec <value>` at every map start (SourceMod's sm_cvar strips ';' from
    # them for that reason): another file drops the panel's server.cfg, a ';' runs anything.
    "servercfgfile": "it replaces the server.cfg the panel writes",
    "lservercfgfile": "it replaces the server.cfg the panel writes",
    # Every log line (players' addresses and Steam IDs, chat, RCON commands) goes by UDP to
    # the address given. Refused outright rather than allowing public addresses: srcds
    # resolves a name itself when it sends, and the host's own public address counts as
    # public too (its other game servers). Owners who need a stats receiver ask the host.
    "logaddress_add": "it sends the server's log (players' addresses, chat) to another machine",
}
# VScript (`script <code>`, `script_execute <file>`, ...): L4D2's SendToServerConsole()
# runs any command from there.
_VSCRIPT = "it runs VScript code, which can run any command"
# Entity commands (ent_fire, ent_create, ...) with these inputs or keyvalues run commands
# or code: point_servercommand's Command input (engine->ServerCommand), AddOutput (wires
# any input), RunScriptCode/RunScriptFile/CallScriptFunction, vscripts, thinkfunction.
_ENTITY_MARKERS = ("command", "addoutput", "script", "thinkfunction")
_ENTITY = (
    "entity inputs such as Command (point_servercommand), AddOutput and RunScriptCode run commands or code"
)
# srcds sends these files' text to every player (the MOTD and host banner string tables);
# server.cfg holds the RCON password.
_SHOWN_TO_PLAYERS = ("motdfile", "hostfile")
_SHOWN = "players are sent that file's text, so it must be a .txt file in the game folder"
# Commands that set the cvar named by their first word: checked as if that cvar were set.
_CVAR_SETTERS = ("sm_cvar", "toggle", "incrementvar", "multvar")


def refusal(argv: list[str]) -> tuple[str, str] | None:
    """(the command, why not) if srcds must not run `argv`; None if it may."""
    if setting := cvars_set(argv):
        argv = argv[len(setting) :]  # `sm_cvar servercfgfile x` is `servercfgfile x`
    if not argv:
        return None
    name, args = argv[0].lower(), argv[1:]
    if name in STOPS:
        return name, STOPS[name]
    if name in _BY_NAME:
        return name, _BY_NAME[name]
    if name == "script" or name.startswith("script_"):
        return name, _VSCRIPT
    if name.startswith("ent_") and any(marker in arg.lower() for arg in args for marker in _ENTITY_MARKERS):
        return name, _ENTITY
    if name in _SHOWN_TO_PLAYERS and args and not _is_text_file("".join(args)):
        return name, _SHOWN
    return None


def _is_text_file(path: str) -> bool:
    return path.lower().endswith(".txt") and ".." not in path and not path.startswith(("/", "\\", "~"))


def cvars_set(argv: list[str]) -> list[str]:
    """The cvar names `argv` sets through sm_cvar, toggle and the like (`sm_cvar hostname x`: hostname)."""
    names = []
    while len(argv) > 1 and argv[0].lower() in _CVAR_SETTERS:
        argv = argv[1:]
        names.append(argv[0].lower())
    return names
