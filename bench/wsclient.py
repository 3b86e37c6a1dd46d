"""A tiny asyncio WebSocket client for the log streams (stdlib only, RFC 6455 subset).

Run as a process by live_latency.py (job logs) and console.py (server consoles):

    python bench/wsclient.py PORT PATH[,PATH...] SESSIONID N [TIMEOUT]

Opens N connections to each ws://127.0.0.1:PORT<PATH> (e.g. /ws/jobs/12/logs,
/ws/servers/3/console?after=40) with the session cookie and a same-origin Origin
header, prints "READY" once every connection has received its first frame (the
tail is subscribed by then), follows until each gets {"type": "end"} (or TIMEOUT:
a console never ends), then prints one JSON line with, per client: its path,
frames, distinct seqs (and the first and last), repeats, the end flag, the close
code, and the print-to-receive latency of every "tick <i> <time.time()>" line.
"""

import asyncio
import base64
import json
import os
import struct
import sys
import time


class Client:
    def __init__(self, port, path, cookie):
        self.port, self.path, self.cookie = port, path, cookie
        self.seqs = set()
        self.repeats = 0
        self.frames = 0
        self.latencies = []
        self.sent = []  # when each tick was printed (time.time()), in the order received
        self.ended = False
        self.close_code = None
        self.first = asyncio.get_running_loop().create_future()
        self.error = None

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://127.0.0.1:{self.port}\r\n"
            f"Cookie: sessionid={self.cookie}\r\n\r\n"
        )
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"handshake refused: {head[:200]!r}")

    def send_text(self, text):
        self._send(0x1, text.encode())

    def _send(self, opcode, payload=b""):
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def _frame(self):
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        mask = await self.reader.readexactly(4) if b1 & 0x80 else None
        payload = await self.reader.readexactly(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return b0 & 0x80, b0 & 0x0F, payload

    async def follow(self):
        buffer = b""
        try:
            while True:
                fin, opcode, payload = await self._frame()
                if opcode == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self._send(0x8, payload[:2])
                    break
                if opcode == 0x9:
                    self._send(0xA, payload)
                    continue
                if opcode in (0x1, 0x2):
                    buffer = payload
                elif opcode == 0x0:
                    buffer += payload
                else:
                    continue
                if not fin:
                    continue
                self.on_message(buffer)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.error = repr(exc)
        finally:
            if not self.first.done():
                self.first.set_result(False)
            self.writer.close()

    def on_message(self, data):
        now = time.time()
        self.frames += 1
        if not self.first.done():
            self.first.set_result(True)
        message = json.loads(data)
        kind = message.get("type")
        if kind == "lines":
            for row in message["lines"]:
                seq = row["seq"]
                if seq in self.seqs:
                    self.repeats += 1
                self.seqs.add(seq)
                line = row["line"]
                if row["stream"] == "stdout" and line.startswith("tick "):
                    sent = float(line.split()[2])
                    self.sent.append(sent)
                    self.latencies.append(now - sent)
        elif kind == "end":
            self.ended = True

    def summary(self):
        return {
            "path": self.path,
            "frames": self.frames,
            "distinct": len(self.seqs),
            "min_seq": min(self.seqs, default=0),
            "max_seq": max(self.seqs, default=0),
            "repeats": self.repeats,
            "ended": self.ended,
            "close_code": self.close_code,
            "error": self.error,
            "latencies": [round(x, 5) for x in self.latencies],
            "sent": [round(x, 3) for x in self.sent],
        }


async def main(port, paths, cookie, n, timeout):
    clients = [Client(port, path, cookie) for path in paths for _ in range(n)]
    for i in range(0, len(clients), 25):  # connect in waves, like a crowd arriving
        await asyncio.gather(*(c.connect() for c in clients[i : i + 25]))
    tasks = [asyncio.create_task(c.follow()) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.first for c in clients)), 30)
    print("READY", flush=True)
    await asyncio.wait(tasks, timeout=timeout)
    for task in tasks:
        task.cancel()
    print(json.dumps([c.summary() for c in clients]), flush=True)


if __name__ == "__main__":
    port, paths, cookie, n = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], int(sys.argv[4])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 60
    asyncio.run(main(port, paths, cookie, n, timeout))
