"""HTTP requests' sync code on a few warm threads per web process, each keeping its SQLite
connection from one request to the next.

Under ASGI, Django runs each request's sync code (middleware, the view) in a thread of its
own (asgiref's ThreadSensitiveContext in ASGIHandler.__call__) that ends with the request.
That cost every page a thread start and join and, since a connection lives in its thread,
a fresh SQLite connection with a cold page cache (CONN_MAX_AGE could never reuse one); and
a crowd of requests ran in as many threads, fighting over the GIL. Measured through two
Daphnes with 50 browsers (bench/README.md, "Web tier"), pages per second: the server page
91 -> 130, the job page 175 -> 238, the server list 134 -> 185.

`WarmThreads(app)` wraps Django's ASGI application: a request takes one of THREADS
one-thread executors and runs its sync code there, through asgiref's public
`ThreadSensitiveContext(executor=...)` (Django's own context inside it then adds
nothing). It gives the executor back as soon as its response starts, so a streamed
response (a followed log) holds none while it streams; only its closing call runs there
again, after whatever that thread runs meanwhile. When every executor is held, a request
waits its turn (the cores are busy anyway), unless none was given back for STUCK_SECONDS
(each held by a view waiting on something slow, like a file operation on a stuck worker):
then it gets a thread of its own, as Django gives it.
"""

import asyncio
import collections
import contextvars
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

# Per web process. More threads than cores only fight over the GIL: the rates above were
# best at four (1: 117/211/156, 2: 123/224/185, 4: 130/238/185, 16: 92/210/172 pages/s).
THREADS = 4
# A request waits for a thread while the line moves; when none was given back for this long
# (every one held by a view waiting on something slow), it takes a thread of its own.
STUCK_SECONDS = 0.5

# Whether the running request's thread is a kept one (read by release_connections,
# which keeps a SQLite connection there for the next request).
on_warm_thread = contextvars.ContextVar("on_warm_thread", default=False)


class WarmThreads:
    def __init__(self, app, threads=THREADS, stuck_seconds=STUCK_SECONDS):
        self.app = app
        self.stuck_seconds = stuck_seconds
        self.given_at = time.monotonic()  # when an executor was last given back
        # Last in, first out: the most recently used thread has the warmest cache.
        self.idle = [ThreadPoolExecutor(1, thread_name_prefix=f"web-sync-{i}") for i in range(threads)]
        self.waiting = collections.deque()  # futures of requests waiting for an executor, in order

    async def __call__(self, scope, receive, send):
        executor = await self._take()
        if executor is None:
            return await self.app(scope, receive, send)
        held = [executor]

        def give_back():
            if held:
                self._give(held.pop())

        async def send_then_give_back(message):
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        token = on_warm_thread.set(True)
        try:
            async with ThreadSensitiveContext(executor=executor):
                return await self.app(scope, receive, send_then_give_back)
        finally:
            on_warm_thread.reset(token)
            give_back()

    async def _take(self):
        if self.idle and not self.waiting:
            return self.idle.pop()
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            while True:
                try:
                    return await asyncio.wait_for(asyncio.shield(turn), self.stuck_seconds)
                except TimeoutError:
                    if turn.done():  # handed over just as the wait ran out
                        return turn.result()
                    if time.monotonic() - self.given_at < self.stuck_seconds:
                        continue  # the line moves: keep this place in it
                    self.waiting.remove(turn)
                    return None
        except asyncio.CancelledError:  # the client went away while it waited
            if turn.done():
                self._give(turn.result())
            else:
                turn.cancel()  # _give passes it by
            raise

    def _give(self, executor):
        self.given_at = time.monotonic()
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(executor)
                return
        self.idle.append(executor)
