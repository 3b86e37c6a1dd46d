"""The web processes' warm threads (l4d2site/sync_threads.py): a page's sync code runs on
one of a few kept threads, where the previous page's SQLite connection still is; more
requests than threads wait their turn, and none waits behind a thread that is stuck."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.db import connection

from l4d2site.sync_threads import WarmThreads, on_warm_thread

SCOPE = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}


async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}


async def ignore(message):
    pass


def where():
    return threading.current_thread().name, on_warm_thread.get()


async def respond(send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_requests_one_after_another_run_on_the_same_kept_thread():
    seen = []

    async def app(scope, receive, send):
        seen.append(await sync_to_async(where)())
        await respond(send)

    warm = WarmThreads(app, threads=2)
    for _ in range(3):
        await warm(SCOPE, receive, ignore)
    assert len(set(seen)) == 1
    name, on_warm = seen[0]
    assert name.startswith("web-sync-") and on_warm


async def test_more_requests_than_threads_wait_their_turn_and_all_answer():
    lock, running, most, names = threading.Lock(), [0], [0], set()

    def work():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            names.add(threading.current_thread().name)
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1

    answered = []

    async def app(scope, receive, send):
        await sync_to_async(work)()
        await respond(send)
        answered.append(1)

    warm = WarmThreads(app, threads=3)
    await asyncio.gather(*(warm(SCOPE, receive, ignore) for _ in range(12)))
    assert len(answered) == 12
    assert most[0] == 3
    assert len(names) == 3 and all(name.startswith("web-sync-") for name in names)


async def test_when_every_thread_is_held_by_a_stuck_view_a_request_gets_a_thread_of_its_own():
    stuck = threading.Event()
    seen = []

    async def app(scope, receive, send):
        if scope["path"] == "/stuck":
            await sync_to_async(stuck.wait)()
        seen.append((scope["path"], await sync_to_async(where)()))
        await respond(send)

    warm = WarmThreads(app, threads=1, stuck_seconds=0.05)
    held = asyncio.create_task(warm({**SCOPE, "path": "/stuck"}, receive, ignore))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(warm(SCOPE, receive, ignore), 10)
    assert not held.done()  # answered while the stuck view still holds the one warm thread
    ((path, (name, on_warm)),) = seen
    assert path == "/" and not name.startswith("web-sync-") and not on_warm
    stuck.set()
    await held
    assert seen[-1][1] == (seen[-1][1][0], True)


async def test_a_streamed_response_gives_its_thread_back_once_it_starts():
    streaming, seen = asyncio.Event(), []

    async def app(scope, receive, send):
        await sync_to_async(where)()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/stream":
            await streaming.wait()  # lines arriving, for hours perhaps
        seen.append((scope["path"], await sync_to_async(where)()))  # Django's closing call
        await send({"type": "http.response.body", "body": b""})

    warm = WarmThreads(app, threads=1, stuck_seconds=0.05)
    stream = asyncio.create_task(warm({**SCOPE, "path": "/stream"}, receive, ignore))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(warm(SCOPE, receive, ignore), 10)
    streaming.set()
    await stream
    (first, (page_thread, _)), (second, (stream_thread, _)) = seen
    assert (first, second) == ("/", "/stream")
    assert page_thread == stream_thread and page_thread.startswith("web-sync-")


async def test_a_client_that_leaves_while_it_waits_takes_no_thread_with_it():
    go = asyncio.Event()

    async def app(scope, receive, send):
        await sync_to_async(where)()
        if scope["path"] == "/slow":
            await go.wait()  # holds the thread: no response started yet
        await respond(send)

    warm = WarmThreads(app, threads=1, stuck_seconds=60)
    slow = asyncio.create_task(warm({**SCOPE, "path": "/slow"}, receive, ignore))
    await asyncio.sleep(0.01)
    leaving = asyncio.create_task(warm(SCOPE, receive, ignore))
    await asyncio.sleep(0.01)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    go.set()
    await slow
    assert len(warm.idle) == 1 and not warm.waiting


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self):
        super().__init__(1, thread_name_prefix="web-sync-test")
        self.calls = 0

    def submit(self, fn, /, *args, **kwargs):
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


def kept_connection():
    return id(connection.connection) if connection.connection is not None else None


# A page through Django's ASGI handler; with a session cookie, so the session middleware reads the database.
PAGE = {
    **SCOPE,
    "path": "/accounts/login/",
    "headers": [(b"cookie", b"sessionid=nosuchsession")],
    "server": ("testserver", 80),
    "client": ("127.0.0.1", 1),
}


async def get_page(app, statuses):
    """One GET of PAGE through `app`, as Daphne would call it."""
    received = []

    async def receive_once():
        received.append(1)
        if len(received) > 1:
            await asyncio.Event().wait()  # then nothing, as from a client waiting for its page
        return await receive()

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(PAGE, receive_once, send)


@pytest.mark.django_db(transaction=True)
async def test_a_page_switches_into_its_thread_three_times_and_keeps_its_sqlite_connection():
    """Into the thread for request_started, the middleware chain with the view, and the
    closing; SQLite's connection stays there for the next page, PostgreSQL's goes back to
    its pool."""
    from l4d2site.asgi import django_asgi_app

    warm = WarmThreads(django_asgi_app, threads=1)
    executor = warm.idle[0] = CountingExecutor()
    statuses, kept = [], []
    for _ in range(2):
        before = executor.calls
        await get_page(warm, statuses)
        assert executor.calls - before == 3
        kept.append(await asyncio.wrap_future(executor.submit(kept_connection)))
    assert statuses == [200, 200]
    if connection.vendor == "sqlite":
        assert kept[0] is not None and kept[0] == kept[1]
    else:
        assert kept == [None, None]


@pytest.mark.django_db(transaction=True)
async def test_no_middleware_hook_is_sent_to_the_thread_on_its_own(monkeypatch):
    """l4d2site.middleware.one_thread, last, keeps the whole chain in one call: without it,
    the middleware below the last sync-only one ran on the event loop, and Django sent each
    of their process_request/process_response hooks to the thread and back by itself."""
    from l4d2site.asgi import django_asgi_app

    sent = []
    original = SyncToAsync.__call__

    async def spy(self, *args, **kwargs):
        sent.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", spy)
    statuses = []
    await get_page(django_asgi_app, statuses)
    assert statuses == [200]
    assert sent and not [name for name in sent if ".process_request" in name or ".process_response" in name]
