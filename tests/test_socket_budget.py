"""At most L4D2_MAX_SOCKETS_PER_USER live connections per user in a web process (issue F7):
every WebSocket route and the endless HTTP streams share one budget; the next is refused."""

import asyncio
import gc
import itertools
import json
import socket
from contextlib import ExitStack

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient
from django.utils import timezone

from jobs.models import Job, JobState
from l4d2site.asgi import application
from l4d2site.socket_budget import budget

from .processes import free_port, running, start_daphne, wait_until
from .test_job_logs import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_budget():
    # The count is the process's: a test that failed half-way must not fail the next ones.
    yield
    budget.held.clear()


def paths(server, job):
    """Every kind of WebSocket route the panel has (and one it has not), in turn, forever."""
    return itertools.cycle(
        [
            f"/ws/jobs/{job.id}/logs",
            f"/ws/servers/{server.id}/console",
            f"/ws/servers/{server.id}/state",
            "/ws/servers/state",
        ]
    )


async def open_socket(path, user):
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return comm


async def assert_live(comm):
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"


async def assert_too_many(comm, cap):
    error = await comm.receive_json_from(timeout=5)
    assert error["type"] == "error" and f"at most {cap} at once" in error["error"]
    closed = await comm.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4429)


async def test_the_51st_websocket_of_one_user_is_refused_while_another_user_still_connects(
    owner, other_owner, server, other_server
):
    job = await sync_to_async(Job.enqueue)(server, "install", owner)
    routes = paths(server, job)
    held = []
    for _ in range(50):  # the default cap, spread over every kind of route
        held.append(await open_socket(next(routes), owner))
        await assert_live(held[-1])
    refused = await open_socket(next(routes), owner)
    await assert_too_many(refused, 50)

    neighbour = await open_socket(f"/ws/servers/{other_server.id}/state", other_owner)
    await assert_live(neighbour)

    await held.pop().disconnect()  # closing one lets the next one in
    again = await open_socket("/ws/servers/state", owner)
    await assert_live(again)
    for comm in (*held, again, neighbour):
        await comm.disconnect()
    assert budget.held == {}  # every slot was given back


async def test_staff_are_capped_too(staff, server, settings):
    settings.L4D2_MAX_SOCKETS_PER_USER = 2
    first = await open_socket(f"/ws/servers/{server.id}/state", staff)
    second = await open_socket(f"/ws/servers/{server.id}/console", staff)
    await assert_too_many(await open_socket("/ws/servers/state", staff), 2)
    for comm in (first, second):
        await comm.disconnect()


async def test_a_socket_to_an_unknown_path_counts_while_it_is_open(owner, settings):
    settings.L4D2_MAX_SOCKETS_PER_USER = 1
    headers = [(b"host", b"localhost"), (b"cookie", await sync_to_async(session_cookie)(owner))]
    comm = WebsocketCommunicator(application, "/ws/nothing/here", headers=headers)
    assert not (await comm.connect(timeout=5))[0]  # refused at the handshake, as ever
    await comm.disconnect()
    assert budget.held == {}  # and its slot is back


# --- the HTTP streams share the budget -------------------------------------------------------


async def test_sse_and_a_followed_log_count_in_the_same_budget_as_websockets(owner, server, settings):
    settings.L4D2_MAX_SOCKETS_PER_USER = 2
    job = await sync_to_async(Job.enqueue)(server, "install", owner)
    client = AsyncClient()
    await client.aforce_login(owner)
    events = await client.get(f"/jobs/{job.id}/events")
    assert events.status_code == 200
    socket = await open_socket(f"/ws/servers/{server.id}/state", owner)

    followed = await client.get(f"/jobs/{job.id}/log.txt?follow=1")
    assert followed.status_code == 429 and followed["Retry-After"] == "30"
    assert "at most 2 at once" in followed.content.decode()
    assert (await client.get(f"/jobs/{job.id}/events")).status_code == 429
    await assert_too_many(await open_socket("/ws/servers/state", owner), 2)
    download = await client.get(f"/jobs/{job.id}/log.txt")  # a download ends by itself: not capped
    assert download.status_code == 200

    events.close()  # what Django does when the client goes away mid-stream
    followed = await client.get(f"/jobs/{job.id}/log.txt?follow=1")
    assert followed.status_code == 200
    await socket.disconnect()
    followed.close()
    assert budget.held == {}


async def test_a_stream_that_ends_by_itself_gives_its_slot_back(owner, server, settings):
    settings.L4D2_MAX_SOCKETS_PER_USER = 1
    job = await sync_to_async(Job.enqueue)(server, "install", owner)
    await Job.objects.filter(pk=job.pk).aupdate(
        state=JobState.SUCCEEDED, exit_code=0, finished_at=timezone.now()
    )
    client = AsyncClient()
    await client.aforce_login(owner)
    for _ in range(3):
        response = await client.get(f"/jobs/{job.id}/events")
        assert response.status_code == 200
        assert b"event: end" in b"".join([chunk async for chunk in response.streaming_content])
    assert budget.held == {}


async def test_a_stream_that_is_never_sent_gives_its_slot_back_once_dropped(owner, server, settings):
    settings.L4D2_MAX_SOCKETS_PER_USER = 1
    job = await sync_to_async(Job.enqueue)(server, "install", owner)
    client = AsyncClient()
    await client.aforce_login(owner)
    response = await client.get(f"/jobs/{job.id}/events")
    assert budget.held == {owner.pk: 1}
    del response
    await asyncio.sleep(0.1)  # the request's task lets go of it on the loop's next turns
    gc.collect()
    assert budget.held == {}


# --- a real Daphne ------------------------------------------------------------------------------


def sse_status(port, job, cookie, keep):
    """Open /jobs/<id>/events on a raw socket, kept open in the `keep` ExitStack; its HTTP status."""
    sock = keep.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
    sock.sendall(
        f"GET /jobs/{job.id}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n".encode()
    )
    return int(sock.recv(4096).split()[1])


@pytest.mark.slow
def test_in_a_real_daphne_closed_sockets_and_streams_give_their_slots_back(owner, server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    job = Job.enqueue(server, "install", owner)
    cookie = session_cookie(owner).decode()
    port = free_port()
    with running(start_daphne(port, L4D2_MAX_SOCKETS_PER_USER="2")), ExitStack() as later:
        url = f"ws://127.0.0.1:{port}/ws/servers/{server.id}/state"
        headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        with ExitStack() as first:
            first.enter_context(connect(url, additional_headers=headers, open_timeout=10))
            assert sse_status(port, job, cookie, first) == 200
            with connect(url, additional_headers=headers, open_timeout=10) as third:
                assert "at most 2 at once" in json.loads(third.recv(10))["error"]
                with pytest.raises(ConnectionClosed) as closed:
                    third.recv(10)
            assert closed.value.rcvd.code == 4429  # Daphne passes the code on (not the reason)
            assert sse_status(port, job, cookie, first) == 429
        # Both closed now (the stream mid-way: Django closes its response): both slots come back.
        wait_until(lambda: sse_status(port, job, cookie, later) == 200, timeout=10)
        wait_until(lambda: sse_status(port, job, cookie, later) == 200, timeout=10)
        assert sse_status(port, job, cookie, later) == 429
