"""Stand-in for srcds_run running a Left 4 Dead 2 server.

Binds the UDP game port, answers A2S_INFO / A2S_PLAYER / A2S_RULES with the
challenge handshake L4D2 has required since 2021, prints console lines like the
real server, quits on the console command `quit` (stdin) and dies on SIGTERM.
Stdlib only: it runs as a plain script.
"""

from __future__ import annotations

import os
import re
import select
import socket
import struct
import sys
from pathlib import Path

HEADER = b"\xff\xff\xff\xff"
INFO_REQUEST = b"\x54Source Engine Query\x00"
APP_ID = 550  # Left 4 Dead 2 (the game), not 222860 (the dedicated server tool)
VERSION = "2.2.4.3"


def say(line: str) -> None:
    print(line, flush=True)


def parse_args(argv: list[str]) -> dict[str, str]:
    """`-port 27015 +map c1m1_hotel -strictportbind` -> {"-port": "27015", ...}."""
    options: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if arg[:1] in "-+":
            value = argv[i + 1] if i + 1 < len(argv) and argv[i + 1][:1] not in "-+" else ""
            options[arg] = value
    return options


def cfg_hostname(cfg_file: Path) -> str | None:
    try:
        text = cfg_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^\s*hostname\s+"([^"\n]*)"', text, re.MULTILINE)
    return match and match.group(1)


class Server:
    def __init__(self, name: str, map_name: str, max_players: int, port: int) -> None:
        self.name = name
        self.map_name = map_name
        self.max_players = max_players
        self.port = port
        self.challenge = os.urandom(4)

    def info(self) -> bytes:
        def string(value: str) -> bytes:
            return value.encode("utf-8") + b"\x00"

        return (
            HEADER
            + b"\x49\x11"
            + string(self.name)
            + string(self.map_name)
            + string("left4dead2")
            + string("Left 4 Dead 2")
            + struct.pack("<HBBB", APP_ID, 0, self.max_players, 0)
            + b"dl\x00\x01"  # dedicated, linux, no password, VAC secured
            + string(VERSION)
            + b"\x80"  # extra data: the game port follows
            + struct.pack("<H", self.port)
        )

    def answer(self, packet: bytes) -> bytes | None:
        """The reply to one datagram, or None for anything that is not A2S."""
        if not packet.startswith(HEADER) or len(packet) < 5:
            return None
        kind, body = packet[4], packet[5:]
        if kind == 0x54 and packet[4:].startswith(INFO_REQUEST):
            given = packet[4 + len(INFO_REQUEST) :]
            return self.info() if given == self.challenge else self.challenge_reply()
        if kind in (0x55, 0x56):  # players, rules: the challenge is the whole body
            if body != self.challenge:
                return self.challenge_reply()
            return HEADER + (b"\x44\x00" if kind == 0x55 else b"\x45\x00\x00")
        return None

    def challenge_reply(self) -> bytes:
        return HEADER + b"\x41" + self.challenge


def serve(server: Server, sock: socket.socket) -> int:
    stdin = sys.stdin.fileno()
    watched = [sock, stdin]
    console = b""
    while True:
        ready, _, _ = select.select(watched, [], [])
        if sock in ready:
            packet, address = sock.recvfrom(1400)
            reply = server.answer(packet)
            if reply is not None:
                sock.sendto(reply, address)
        if stdin in ready:
            data = os.read(stdin, 4096)
            if not data:  # console closed: keep serving, like srcds does
                watched.remove(stdin)
            *commands, console = (console + data).split(b"\n")
            for command in commands:
                command = command.decode("utf-8", "replace").strip()
                if command == "quit":
                    say("Shutting down server...")
                    return 0
                if command:
                    say(f'Unknown command "{command}"')


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    port = int(options.get("-port") or 27015)
    cfg_name = options.get("+servercfgfile") or "server.cfg"
    name = options.get("+hostname") or cfg_hostname(Path("left4dead2/cfg") / cfg_name)
    server = Server(
        name=name or "Left 4 Dead 2",
        map_name=options.get("+map") or "c1m1_hotel",
        max_players=int(options.get("-maxplayers") or options.get("+maxplayers") or 8),
        port=port,
    )
    say("Auto detecting CPU")
    say("Using default binary: ./srcds_linux")
    say("Server will auto-restart if there is a crash.")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((options.get("-ip") or "0.0.0.0", port))
    except OSError:
        if "-strictportbind" in options:
            say(
                f'WARNING: Port {port} was unavailable - quitting due to "-strictportbind" command line flag!'
            )
            return 1
        raise
    say(f"Executing dedicated server config file {cfg_name}")
    say(f"Server hostname: {server.name}, map: {server.map_name}, max players: {server.max_players}")
    say("Connection to Steam servers successful.")
    say("   VAC secure mode is activated.")
    say("Server is hibernating")
    return serve(server, sock)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
