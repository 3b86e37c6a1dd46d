"""Source RCON (TCP, the game port) for the srcds simulator. Stdlib only.

Packets: int32 LE size (counts what follows), int32 id, int32 type, body, NUL, NUL.
Behaviour copied from the engine (sv_rcon.cpp, sv_remoteaccess.cpp), including
its timing, which clients notice:
- Whatever a request printed goes back at once as SERVERDATA_RESPONSE_VALUE
  packets (bodies of at most 4096 bytes), even when it printed nothing.
- Queued answers go out one server frame later: SERVERDATA_AUTH_RESPONSE (the
  request id, or -1 for a wrong password) after an AUTH, and after an empty
  RESPONSE_VALUE from the client (the end-of-answer trick) one more packet whose
  body reads 00 01 00 00 (the engine answers it as a cvar query for "").
- No rcon_password: every AUTH fails. Changing rcon_password drops every
  connection. sv_rcon_minfailures wrong passwords within sv_rcon_minfailuretime
  seconds ban the address: its connections are closed from then on.
"""

from __future__ import annotations

import selectors
import socket
import struct
import time

AUTH, AUTH_RESPONSE, EXECCOMMAND, RESPONSE_VALUE = 3, 2, 2, 0
MAX_BODY = 4096
MAX_REQUEST = 4096  # a bigger size field closes the connection, as in the engine
FRAME_SECONDS = 1 / 30  # L4D2 runs 30 ticks a second


def packet(request_id: int, kind: int, body: bytes = b"") -> bytes:
    payload = struct.pack("<ii", request_id, kind) + body + b"\x00\x00"
    return struct.pack("<i", len(payload)) + payload


class Connection:
    def __init__(self, sock: socket.socket, address: tuple[str, int]) -> None:
        self.sock = sock
        self.ip, self.port = address[0], address[1]
        self.inbox = b""
        self.outbox = b""
        self.next_frame: list[bytes] = []
        self.due = 0.0
        self.authed = False


class RconServer:
    def __init__(self, listener: socket.socket, selector: selectors.BaseSelector, game) -> None:
        self.listener = listener
        self.selector = selector
        self.game = game
        self.connections: list[Connection] = []
        self.failures: dict[str, list[float]] = {}
        self.banned: set[str] = set()
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, self.accept)
        game.on_rcon_password_change = self.close_all

    def next_frame_in(self, longest: float) -> float:
        """Seconds until some queued answer is due, at most `longest`."""
        due = [conn.due for conn in self.connections if conn.next_frame]
        return max(0.0, min([longest, *(t - time.monotonic() for t in due)]))

    def accept(self) -> None:
        try:
            sock, address = self.listener.accept()
        except BlockingIOError:
            return
        if address[0] in self.banned:
            sock.close()
            return
        sock.setblocking(False)
        conn = Connection(sock, address)
        self.connections.append(conn)
        self.selector.register(sock, selectors.EVENT_READ, lambda: self.receive(conn))

    def frame(self) -> None:
        """A server frame: answers queued during an earlier frame go out."""
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.next_frame and conn.due <= now:
                conn.outbox += b"".join(conn.next_frame)
                conn.next_frame.clear()
                self.flush(conn)

    def later(self, conn: Connection, data: bytes) -> None:
        """Queue `data` for the next server frame."""
        if not conn.next_frame:
            conn.due = time.monotonic() + FRAME_SECONDS
        conn.next_frame.append(data)

    def receive(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        conn.inbox += data
        while len(conn.inbox) >= 4 and conn in self.connections:
            (size,) = struct.unpack_from("<i", conn.inbox)
            if size < 10 or size > MAX_REQUEST:
                self.close(conn)
                return
            if len(conn.inbox) < 4 + size:
                break
            request_id, kind = struct.unpack_from("<ii", conn.inbox, 4)
            body = conn.inbox[12 : 4 + size].split(b"\x00", 1)[0]
            conn.inbox = conn.inbox[4 + size :]
            self.handle(conn, request_id, kind, body.decode("utf-8", "replace"))
        if conn in self.connections:
            self.flush(conn)

    def handle(self, conn: Connection, request_id: int, kind: int, body: str) -> None:
        output = ""
        if kind == AUTH:
            self.authenticate(conn, request_id, body)
            if conn not in self.connections:
                return  # banned: closed without an answer
        elif kind == EXECCOMMAND and conn.authed:
            try:
                lines = self.game.execute(body)
            finally:
                self.game.log(f'rcon from "{conn.ip}:{conn.port}": command "{body}"')
            output = "".join(f"{line}\n" for line in lines)
        elif kind == EXECCOMMAND:
            self.game.log(f'rcon from "{conn.ip}:{conn.port}": Bad Password')
        elif kind == RESPONSE_VALUE:
            if conn.authed:
                # The engine's answer to a query for the cvar "": "" NUL, int32 1, NUL.
                self.later(conn, packet(request_id, RESPONSE_VALUE, b"\x00\x01\x00\x00"))
        else:
            self.close(conn)
            return
        data = output.encode("utf-8")
        chunks = [data[i : i + MAX_BODY] for i in range(0, len(data), MAX_BODY)] or [b""]
        conn.outbox += b"".join(packet(request_id, RESPONSE_VALUE, chunk) for chunk in chunks)

    def authenticate(self, conn: Connection, request_id: int, password: str) -> None:
        wanted = self.game.cvar("rcon_password")
        conn.authed = bool(wanted) and password == wanted
        if conn.authed:
            self.later(conn, packet(request_id, AUTH_RESPONSE))
            return
        if conn.ip == self.game.cvar("sv_rcon_whitelist_address"):
            self.game.say(f"Rcon auth failed from rcon whitelist address {conn.ip}:{conn.port}")
        else:
            now = time.monotonic()
            window = float(self.game.cvar("sv_rcon_minfailuretime") or 30)
            recent = [t for t in self.failures.get(conn.ip, []) if now - t < window] + [now]
            self.failures[conn.ip] = recent
            if len(recent) >= int(self.game.cvar("sv_rcon_minfailures") or 5):
                self.game.say(f"Banning {conn.ip} for rcon hacking attempts")
                self.banned.add(conn.ip)
                for other in [c for c in self.connections if c.ip == conn.ip]:
                    self.close(other)
                return
        self.later(conn, packet(-1, AUTH_RESPONSE))

    def flush(self, conn: Connection) -> None:
        if conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.close(conn)
                return
            conn.outbox = conn.outbox[sent:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        self.selector.modify(conn.sock, events, lambda: self.ready(conn))

    def ready(self, conn: Connection) -> None:
        """Readable or writable: the selector does not say which, so try both."""
        if conn.outbox:
            self.flush(conn)
        if conn in self.connections:
            self.receive(conn)

    def close(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            self.selector.unregister(conn.sock)
            conn.sock.close()

    def close_all(self) -> None:
        for conn in list(self.connections):
            self.close(conn)
