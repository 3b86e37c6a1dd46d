"""Load for a running panel: logged-in browsers asking for pages (asyncio, stdlib only).

- `saturate(port, path, cookie, clients, seconds)`: `clients` browsers, each on its own
  keep-alive connection, asking again as soon as a page arrives; pages per second.
- `open_loop(port, path, cookie, rate, seconds)`: a request every 1/rate s whatever the
  answers do (people do not wait for each other); each one's latency counts from when
  it was due, so a panel that falls behind shows it. On idle keep-alive connections.
"""

from __future__ import annotations

import asyncio
import time


class Browser:
    def __init__(self, port, cookie):
        self.port = port
        self.request = (
            f"GET {{path}} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: sessionid={cookie}\r\n"
            "Accept: text/html\r\n\r\n"
        )
        self.reader = self.writer = None

    async def get(self, path):
        """The status of one GET (the body read to its end)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(self.request.format(path=path).encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(None, 2)[1])
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
        }
        if headers.get(b"transfer-encoding") == b"chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        else:
            await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection") == b"close":
            self.close()
        return status

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def saturate(port, path, cookie, clients, seconds):
    """(pages per second, statuses other than 200) over `seconds` with `clients` browsers."""
    done, bad = [0], [0]
    end = time.monotonic() + seconds

    async def browse():
        browser = Browser(port, cookie)
        while time.monotonic() < end:
            status = await browser.get(path)
            done[0] += 1
            bad[0] += status != 200
        browser.close()

    start = time.monotonic()
    await asyncio.gather(*(browse() for _ in range(clients)))
    return done[0] / (time.monotonic() - start), bad[0]


async def open_loop(port, path, cookie, rate, seconds):
    """(latencies in seconds, statuses other than 200) of rate*seconds requests due every 1/rate s."""
    idle, latencies, bad = [], [], [0]
    start = time.monotonic()

    async def one(due):
        browser = idle.pop() if idle else Browser(port, cookie)
        status = await browser.get(path)
        latencies.append(time.monotonic() - due)
        bad[0] += status != 200
        idle.append(browser)

    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    for browser in idle:
        browser.close()
    return latencies, bad[0]
