"""Stand-in for srcds_run running a Left 4 Dead 2 server. Stdlib only: it runs as a plain script.

One process plays both layers of the real thing, so the console reads like theirs:
- srcds_run, Valve's wrapper script. Without `-norestart` it prints "Server will
  auto-restart if there is a crash.", and when the server exits non-zero it prints
  its crash lines and starts it again after `-timeout` seconds (default 10), in
  the same process; after a clean `quit` it prints "<date>: Server Quit" and kills
  itself with SIGINT, as the script does. With `-norestart` the script execs the
  server, so nothing of the wrapper is left: no crash lines, and the exit status
  is the server's own (a segfault is death by SIGSEGV, 139 in a shell's `$?`).
- srcds_linux, the server: startup lines, server.cfg, A2S on the UDP game port
  (a2s_server.py), RCON on the TCP game port (rcon_server.py), console commands
  read line by line from stdin (game.py; no prompt, no echo: only their output):
  status, say, echo, changelevel/map, exec, log on|off, quit/exit, and the cvars
  of game.CVARS (set silently, printed when queried); anything else prints
  `Unknown command "<first word>"`. RCON runs the same commands; with `log on` (as
  in LinuxGSM's server.cfg) each is logged to the console as `L <date>: rcon from
  "ip:port": command "..."`, like srcds, which logs nothing while logging is off.

Test hooks (all inherited by every restart):
- HOSTCTL_SIM_PLAYERS: comma-separated names on the server (`BOT:Coach` is a bot;
  empty: nobody). Unset: three players. Console: `sim_players a,b` / `sim_players`.
- HOSTCTL_SIM_CRASH_AFTER=<seconds>:<kind>, console `sim_crash <kind>`: fail that
  way that long after each start (0: during startup). Kinds:
  segfault  srcds dies by SIGSEGV (the wrapper, if any, prints "Segmentation fault")
  hosterror a Host_Error line, exit 1
  library   steamclient.so "cannot open shared object file", exit 1
  hang      alive but deaf: no A2S, no RCON, no console (also `sim_hang`)
- `sim_tick <lines/s> [count]`: print `tick <n> <unix time>` lines at that rate
  (count 0 or none: until `sim_tick 0`), for console and latency tests.
- HOSTCTL_SIM_BOOT_SECONDS: how long loading takes after the ports are bound
  (default 0); meanwhile A2S gets no answer, as from a real server loading its map.
- `sim_update_available`: the "needs to be restarted ... latest update" lines. They
  also come by themselves when the latest build (steaminfo.py) passes the buildid
  of the appmanifest in the current directory, like Steam telling a real server.
- A `+map` that is not an official campaign map, left4dead2/maps/<map>.bsp nor in an
  add-on VPK of left4dead2/addons (the Workshop's maps/<map>.bsp, as the game mounts them): a
  Host_Error at startup, exit 1. A busy port: with `-strictportbind` the real
  warning and exit 1; without it srcds moves on to the next free port (up to 10).
SIGTERM ends the process at once.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import signal
import socket
import sys
import time
from pathlib import Path

if __package__:
    from . import a2s_server, game, rcon_server, steaminfo
else:  # run as a script: this file's folder is sys.path[0]
    import a2s_server
    import game
    import rcon_server
    import steaminfo

PORT_TRY_MAX = 10
UPDATE_CHECK_SECONDS = 1.0
SEGFAULT = "segfault"
STRICT = '"-strictportbind"'
DEBUG_HINT = (
    'Add "-debug" to the ./srcds_run command line to generate a debug.log to help with solving this problem'
)


def say(line: str) -> None:
    print(line, flush=True)


def shell_date() -> str:
    return time.strftime("%a %b %e %H:%M:%S %Z %Y")


def parse_args(argv: list[str]) -> dict[str, str]:
    """`-port 27015 +map c1m1_hotel -strictportbind` -> {"-port": "27015", ...}."""
    options: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if arg[:1] in "-+":
            value = argv[i + 1] if i + 1 < len(argv) and argv[i + 1][:1] not in "-+" else ""
            options[arg] = value
    return options


def failure_after() -> tuple[float, str] | None:
    """HOSTCTL_SIM_CRASH_AFTER=<seconds>:<kind> -> (seconds, kind)."""
    seconds, _, kind = os.environ.get("HOSTCTL_SIM_CRASH_AFTER", "").partition(":")
    if kind not in game.FAILURES:
        return None
    return float(seconds or 0), kind


class Console:
    """stdin, read a line at a time; the buffer outlives restarts like the FIFO does."""

    def __init__(self) -> None:
        try:
            self.fd: int | None = sys.stdin.fileno()
            os.fstat(self.fd)
        except (AttributeError, ValueError, OSError):
            self.fd = None
        self.buffer = b""

    def read_lines(self) -> list[str]:
        data = os.read(self.fd, 4096)
        if not data:  # console closed: keep serving, like srcds does
            self.fd = None
            return []
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        return [line.decode("utf-8", "replace").strip() for line in lines]


def bind(ip: str, port: int, strict: bool) -> tuple[socket.socket, socket.socket] | None:
    """UDP and TCP sockets on the first free port from `port`, like NET_OpenSocket."""
    for offset in range(PORT_TRY_MAX):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            udp.bind((ip, port + offset))
            tcp.bind((ip, port + offset))
            tcp.listen(16)
            return udp, tcp
        except OSError as exc:
            udp.close()
            tcp.close()
            if exc.errno != errno.EADDRINUSE:
                say(f"WARNING: NNET_OpenSocket: bind: {exc.strerror}")
                break
            if strict:
                say(f"WARNING: Port {port} was unavailable - quitting due to {STRICT} command line flag!")
                return None
    say("Couldn't allocate dedicated server UDP port")
    return None


def fail(kind: str) -> int | str:
    """Print what `kind` of failure prints; the exit status, or SEGFAULT."""
    if kind == "hang":
        while True:  # deadlocked: sockets stay bound, nothing is read or answered
            time.sleep(3600)
    if kind == "hosterror":
        say("Host_Error: SV_CreatePacketEntities: GetEntServerClass failed for ent 2048.")
        return 1
    if kind == "library":
        library = f"{Path.home()}/.steam/sdk32/steamclient.so"
        say("dlopen failed trying to load:")
        say(library)
        say("with error:")
        say(f"{library}: cannot open shared object file: No such file or directory")
        say("[S_API FAIL] SteamAPI_Init() failed; unable to locate a running instance of Steam, "
            "or a local steamclient.so.")  # fmt: skip
        return 1
    return SEGFAULT


def start(options: dict[str, str], failure: tuple[float, str] | None) -> tuple | int | str:
    """Startup up to the ready line: (game, udp, tcp), or how it ended."""
    say("Setting breakpad minidump AppID = 222860")
    say("Using breakpad crash handler")
    say("Forcing breakpad minidump interfaces to load")
    say("Looking up breakpad interfaces from steamclient")
    say("Calling BreakpadMiniDumpSystemInit")
    if failure and failure[0] <= 0:
        return fail(failure[1])
    say("Console initialized.")
    say('Game.dll loaded for "Left 4 Dead 2"')
    max_players = int(options.get("-maxplayers") or options.get("+maxplayers") or 8)
    say(f"maxplayers set to {max_players}")
    ip, port = options.get("-ip") or "0.0.0.0", int(options.get("-port") or options.get("+hostport") or 27015)
    sockets = bind(ip, port, strict="-strictportbind" in options)
    if sockets is None:
        return 1
    port = sockets[0].getsockname()[1]
    client_port = options.get("+clientport") or "27005"
    say(f"Network: IP {ip}, mode MP, dedicated Yes, ports {port} SV / {client_port} CL")
    say("Initializing Steam libraries for secure Internet server")
    time.sleep(float(os.environ.get("HOSTCTL_SIM_BOOT_SECONDS") or 0))
    state = game.Game(
        map_name=options.get("+map") or "c1m1_hotel",
        max_players=max_players,
        port=port,
        ip=ip,
        insecure="-insecure" in options,
        say=say,
    )
    if not state.is_map(state.map_name):
        bsp = f"maps/{state.map_name}.bsp"
        say(f"CModelLoader::Map_IsValid:  No such map '{bsp}'")
        say(f"map load failed: {state.map_name} not found or invalid")
        say(f"Host_Error: unable to open {bsp}")
        for sock in sockets:
            sock.close()
        return 1
    for option, value in options.items():  # +cvar value on the command line; server.cfg comes after
        if option[:1] == "+" and option[1:] in state.cvars:
            state.set_cvar(option[1:], value)
    for line in state.start_map():
        say(line)
    say("Connection to Steam servers successful.")
    say(f"   Public IP is {ip if ip != '0.0.0.0' else '127.0.0.1'}.")
    say(f"Assigned anonymous gameserver Steam ID {state.steam_id}.")
    say("   VAC secure mode disabled." if state.insecure else "   VAC secure mode is activated.")
    if not any(not p.bot for p in state.players):
        say("Server is hibernating")
    return (state, *sockets)


def run_server(options: dict[str, str], console: Console) -> int | str:
    """One life of srcds_linux: its exit status, or SEGFAULT."""
    failure = failure_after()
    started = time.monotonic()
    result = start(options, failure)
    if not isinstance(result, tuple):
        return result
    state, udp, tcp = result
    a2s = a2s_server.A2S(state)
    selector = selectors.DefaultSelector()
    rcon = rcon_server.RconServer(tcp, selector, state)

    def serve_udp() -> None:
        packet, address = udp.recvfrom(1400)
        reply = a2s.answer(packet)
        if reply is not None:
            udp.sendto(reply, address)

    def read_console() -> None:
        fd = console.fd
        lines = console.read_lines()
        if console.fd is None:
            selector.unregister(fd)
        for line in lines:
            for output in state.execute(line):
                say(output)

    selector.register(udp, selectors.EVENT_READ, serve_udp)
    if console.fd is not None:
        selector.register(console.fd, selectors.EVENT_READ, read_console)
    installed = steaminfo.installed_build(Path.cwd())
    update_checked, update_told = 0.0, False
    try:
        while True:
            rcon.frame()
            wait = rcon.next_frame_in(0.25)
            if state.ticker:
                wait = min(wait, state.ticker.due_in())
            for key, _ in selector.select(wait):
                key.data()
            if state.ticker:
                for line in state.ticker.due():
                    say(line)
                if state.ticker.done:
                    state.ticker = None  # or the loop would spin on a deadline that has passed
            now = time.monotonic()
            if failure and now - started >= failure[0]:
                return fail(failure[1])
            if installed and not update_told and now - update_checked >= UPDATE_CHECK_SECONDS:
                update_checked = now
                if steaminfo.latest_build() > installed:
                    update_told = True
                    for line in game.update_notice():
                        say(line)
    except game.Quit:
        say("Shutting down server...")
        return 0
    except game.Failure as failed:
        return fail(failed.kind)
    finally:
        rcon.close_all()
        selector.close()
        udp.close()
        tcp.close()


def die(signum: int) -> None:
    """End this process by `signum`, the way the real process ends."""
    if signum == signal.SIGSEGV:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the install dir
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    time.sleep(5)
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    restart = "-norestart" not in options
    pause = float(options.get("-timeout") or 10)
    console = Console()
    if restart:
        say("Server will auto-restart if there is a crash.")
    lives = 0
    while True:
        result = run_server(options, console)
        lives += 1
        if not restart:
            break
        if result == 0:
            say(f"{shell_date()}: Server Quit")
            die(signal.SIGINT)
        if result == SEGFAULT:
            # bash's report of a child killed by a signal; the pid is the server's, not ours
            say(f"./srcds_run: line 345: {os.getpid() + lives} Segmentation fault      (core dumped) $HL_CMD")
        say(DEBUG_HINT)
        say(f"{shell_date()}: Server restart in {pause:g} seconds")
        time.sleep(pause)
    if result == SEGFAULT:
        die(signal.SIGSEGV)
    return int(result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
