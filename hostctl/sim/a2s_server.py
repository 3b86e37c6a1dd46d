"""A2S answers (UDP, the game port) for the srcds simulator. Stdlib only.

Wire format: developer.valvesoftware.com/wiki/Server_queries. L4D2 has required
the challenge handshake since 2021: a request without the right 4-byte
challenge gets `FF FF FF FF 41 <challenge>` and must be sent again with it.
"""

from __future__ import annotations

import os
import struct

HEADER = b"\xff\xff\xff\xff"
INFO_REQUEST = b"\x54Source Engine Query\x00"
APP_ID = 550  # Left 4 Dead 2 (the game), not 222860 (the dedicated server tool)
GAME_ID = APP_ID  # the 64-bit game id of a Steam game is its app id


def _string(value: str) -> bytes:
    return value.encode("utf-8", "replace") + b"\x00"


class A2S:
    """Builds replies from whatever `game` says at the moment of the query."""

    def __init__(self, game) -> None:
        self.game = game
        self.challenge = os.urandom(4)

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
            return self.players() if kind == 0x55 else self.rules()
        return None

    def challenge_reply(self) -> bytes:
        return HEADER + b"\x41" + self.challenge

    def info(self) -> bytes:
        game = self.game
        people = game.players
        bots = sum(1 for p in people if p.bot)
        keywords = ",".join(filter(None, [game.cvar("mp_gamemode"), game.cvar("sv_tags")]))
        return (
            HEADER
            + b"\x49\x11"
            + _string(game.cvar("hostname"))
            + _string(game.map_name)
            + _string("left4dead2")
            + _string("Left 4 Dead 2")
            + struct.pack("<HBBB", APP_ID, len(people), game.max_players, bots)
            + b"dl"  # dedicated, linux
            + struct.pack("<BB", 1 if game.cvar("sv_password") else 0, 0 if game.insecure else 1)
            + _string(game.version)
            # Extra data, in the order the flags are read: port, steam id, keywords, game id.
            + b"\xb1"
            + struct.pack("<HQ", game.port, game.steam_id64)
            + _string(keywords)
            + struct.pack("<Q", GAME_ID)
        )

    def players(self) -> bytes:
        rows = b"".join(
            # Source servers send 0 as every player's index.
            b"\x00" + _string(p.name) + struct.pack("<if", p.score, p.duration())
            for p in self.game.players
        )
        return HEADER + b"\x44" + struct.pack("<B", len(self.game.players)) + rows

    def rules(self) -> bytes:
        return HEADER + b"\x45\x00\x00"
