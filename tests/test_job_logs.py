"""The live log stream (DESIGN.md §4) over WebSocket and SSE, sharing one tail."""

import asyncio
import functools
import hashlib
import importlib
import inspect
import json
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient, Client
from django.utils import timezone

from jobs.models import Job, JobLog, JobState
from l4d2site.asgi import application
from streams import source, tail
from streams.events import Ping, State
from streams.viewer import Viewer

pytestmark = pytest.mark.django_db(transaction=True)

XSS = "<script>alert(1)</script>"


def add_lines(job, *lines, stream="stdout"):
    start = JobLog.objects.filter(job=job).count()
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=start + i, stream=stream, line=line) for i, line in enumerate(lines, 1)]
    )


def set_state(job, state, **fields):
    if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED):
        fields.setdefault("finished_at", timezone.now())
    Job.objects.filter(pk=job.pk).update(state=state, **fields)


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def communicator(job_id, user=None, query="", origin=b"http://localhost", host=b"localhost"):
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin else [])
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    path = f"/ws/jobs/{job_id}/logs" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until_end(comm, timeout=5):
    """Every message up to and including {"type": "end"}; then the socket must close 1000."""
    messages = []
    while True:
        message = await comm.receive_json_from(timeout=timeout)
        messages.append(message)
        if message["type"] == "end":
            closed = await comm.receive_output(timeout=timeout)
            assert closed == {"type": "websocket.close", "code": 1000}
            return messages


def seqs(messages):
    return [line["seq"] for m in messages if m["type"] == "lines" for line in m["lines"]]


async def a_viewer_gets_both_lines_of_a_running_job(owner, job):
    """A viewer joins a running job, two lines are written, the job ends: it gets both, then end."""
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comm = await communicator(job.id, owner)
    await comm.connect()
    assert (await comm.receive_json_from())["state"] == "running"
    await sync_to_async(add_lines)(job, "one", "two")
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    assert seqs(await receive_until_end(comm)) == [1, 2]
    await comm.disconnect()


# --- WebSocket -----------------------------------------------------------------


async def test_websocket_replays_a_finished_job_then_ends(owner, job):
    await sync_to_async(add_lines)(job, "one", "two", XSS)
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner)
    connected, _ = await comm.connect()
    assert connected
    messages = await receive_until_end(comm)
    assert messages[0]["type"] == "state" and messages[0]["state"] == "succeeded"
    assert messages[0]["exit_code"] == 0
    lines = [line for m in messages if m["type"] == "lines" for line in m["lines"]]
    assert all(line.pop("at").startswith(str(timezone.now().year)) for line in lines)
    assert lines == [
        {"seq": 1, "stream": "stdout", "line": "one"},
        {"seq": 2, "stream": "stdout", "line": "two"},
        {"seq": 3, "stream": "stdout", "line": XSS},
    ]
    await comm.disconnect()


async def test_websocket_pushes_rows_written_after_connect(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    await sync_to_async(add_lines)(job, "before")
    comm = await communicator(job.id, owner)
    await comm.connect()
    first = await comm.receive_json_from()
    assert first["type"] == "state" and first["state"] == "running"
    replay = await comm.receive_json_from()
    assert [line["line"] for line in replay["lines"]] == ["before"]
    await sync_to_async(add_lines)(job, "live 1", "live 2")
    live = await comm.receive_json_from(timeout=3)
    assert [line["seq"] for line in live["lines"]] == [2, 3]
    await sync_to_async(set_state)(job, JobState.FAILED, exit_code=3)
    rest = await receive_until_end(comm)
    states = [m for m in rest if m["type"] == "state"]
    assert states[-1]["state"] == "failed" and states[-1]["exit_code"] == 3
    assert states[-1]["finished_at"] is not None
    await comm.disconnect()


async def test_websocket_sends_a_state_message_on_every_change(owner, job):
    comm = await communicator(job.id, owner)
    await comm.connect()
    assert (await comm.receive_json_from())["state"] == "queued"
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    running = await comm.receive_json_from(timeout=3)
    assert running["type"] == "state" and running["state"] == "running" and running["started_at"]
    await sync_to_async(set_state)(job, JobState.CANCELLING, cancel_requested_at=timezone.now())
    assert (await comm.receive_json_from(timeout=3))["state"] == "cancelling"
    await sync_to_async(set_state)(job, JobState.CANCELLED, exit_code=-15)
    rest = await receive_until_end(comm)
    assert [m["state"] for m in rest if m["type"] == "state"] == ["cancelled"]
    await comm.disconnect()


async def test_after_resumes_without_duplicates(owner, job):
    await sync_to_async(add_lines)(job, *[f"line {i}" for i in range(1, 11)])
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner, query="after=7")
    await comm.connect()
    assert seqs(await receive_until_end(comm)) == [8, 9, 10]
    await comm.disconnect()


async def test_live_lines_arrive_in_order_without_gaps_or_repeats(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comm = await communicator(job.id, owner)
    await comm.connect()

    async def write():
        for batch in range(20):
            await sync_to_async(add_lines)(job, *[f"b{batch} l{i}" for i in range(25)])
            await asyncio.sleep(0.01)
        await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)

    writer = asyncio.create_task(write())
    messages = await receive_until_end(comm)
    await writer
    assert seqs(messages) == list(range(1, 501))
    await comm.disconnect()


async def test_long_replays_come_in_batches(owner, job):
    await sync_to_async(add_lines)(job, *[f"l{i}" for i in range(2500)])
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner)
    await comm.connect()
    messages = await receive_until_end(comm)
    assert seqs(messages) == list(range(1, 2501))
    assert max(len(m["lines"]) for m in messages if m["type"] == "lines") <= source.BATCH
    await comm.disconnect()


async def test_outsider_is_closed_with_4403_before_any_data(other_owner, job):
    comm = await communicator(job.id, other_owner)
    connected, _ = await comm.connect()
    assert connected
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_anonymous_is_closed_with_4403_before_any_data(job):
    comm = await communicator(job.id, None)
    await comm.connect()
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_missing_job_is_closed_with_4403(owner):
    comm = await communicator(987654, owner)
    await comm.connect()
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}


def logged_out_cookie(user):
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    client.logout()
    return cookie


def cookie_of_changed_password(user):
    cookie = session_cookie(user)
    user.set_password("a new password, set elsewhere")
    user.save()
    return cookie


@pytest.mark.parametrize("stale_cookie", [logged_out_cookie, cookie_of_changed_password])
async def test_a_session_that_ended_is_closed_with_4403(owner, job, stale_cookie):
    cookie = await sync_to_async(stale_cookie)(owner)
    comm = WebsocketCommunicator(
        application,
        f"/ws/jobs/{job.id}/logs",
        headers=[(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie)],
    )
    await comm.connect()
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_a_crowd_of_one_users_tabs_reads_the_session_and_checks_the_job_once(owner, job, monkeypatch):
    from accounts import middleware
    from jobs import consumers

    calls = []

    def counted(name, call):
        async def wrapper(*args):
            calls.append(name)
            return await call(*args)

        return wrapper

    monkeypatch.setattr(middleware, "_session_user", counted("session", middleware._session_user))
    monkeypatch.setattr(consumers, "_check_job_visible", counted("job", consumers._check_job_visible))
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comms = [await communicator(job.id, owner) for _ in range(20)]
    cookie = dict(comms[0].scope["headers"])[b"cookie"]
    for comm in comms:  # one session, as from one browser's tabs
        comm.scope["headers"] = [(k, cookie if k == b"cookie" else v) for k, v in comm.scope["headers"]]
    await asyncio.gather(*(comm.connect() for comm in comms))
    for comm in comms:
        assert (await comm.receive_json_from(timeout=5))["state"] == "running"
    assert calls == ["session", "job"]
    # Nothing is kept once the crowd is in: the next tab asks again.
    late = await communicator(job.id, owner)
    late.scope["headers"] = comms[0].scope["headers"]
    await late.connect()
    assert (await late.receive_json_from(timeout=5))["state"] == "running"
    assert calls == ["session", "job", "session", "job"]
    for comm in [*comms, late]:
        await comm.disconnect()


@pytest.mark.parametrize(
    "replaced, checked",
    [
        ("channels.auth:AuthMiddleware.resolve_scope", "e4d45bbcc94f96a2"),  # accounts.middleware
        ("channels.consumer:AsyncConsumer.dispatch", "39f34e7d4fb0f655"),  # streams.consumers
        ("channels.generic.websocket:AsyncWebsocketConsumer.websocket_disconnect", "10f38aa55fd51ff5"),
    ],
)
def test_what_we_replace_of_channels_is_the_version_we_read(replaced, checked):
    """WebSocketUser and StreamConsumer replace these methods of Channels' (to keep a crowd's
    handshakes off Django's one thread-sensitive thread). When Channels changes one, this
    fails: read the new version and carry over whatever it now does, then update the hash."""
    module, _, name = replaced.partition(":")
    method = functools.reduce(getattr, name.split("."), importlib.import_module(module))
    assert hashlib.sha256(inspect.getsource(method).encode()).hexdigest()[:16] == checked


async def test_staff_may_follow_any_job(staff, job):
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, staff)
    await comm.connect()
    assert (await receive_until_end(comm))[0]["state"] == "succeeded"


async def test_foreign_origin_is_refused(owner, job):
    comm = await communicator(job.id, owner, origin=b"http://evil.example")
    connected, _ = await comm.connect()
    assert not connected


@pytest.mark.parametrize(
    "origin, host",
    [
        (b"http://localhost:9999", b"localhost"),  # another port of the same host
        (b"https://localhost", b"localhost"),  # another scheme
        (b"http://localhost", b"localhost:8000"),
        (b"http://localhost.evil.example", b"localhost"),
        (b"null", b"localhost"),
        (b"http://localhost", b"evil.example"),  # a Host we do not serve
    ],
)
async def test_an_origin_that_is_not_exactly_this_site_is_refused(owner, job, origin, host):
    comm = await communicator(job.id, owner, origin=origin, host=host)
    connected, _ = await comm.connect()
    assert not connected


async def test_the_same_origin_on_a_non_default_port_is_accepted(owner, job):
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner, origin=b"http://localhost:8000", host=b"localhost:8000")
    assert (await comm.connect())[0]
    assert (await receive_until_end(comm))[-1] == {"type": "end"}


async def test_a_client_without_origin_such_as_a_script_is_let_through_to_the_owner_check(
    owner, other_owner, job
):
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner, origin=None)
    assert (await comm.connect())[0]
    assert (await receive_until_end(comm))[-1] == {"type": "end"}
    outsider = await communicator(job.id, other_owner, origin=None)
    await outsider.connect()
    assert await outsider.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_bad_after_gets_an_error_and_4400(owner, job):
    comm = await communicator(job.id, owner, query="after=abc")
    await comm.connect()
    error = await comm.receive_json_from()
    assert error["type"] == "error" and "after" in error["error"]
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4400}


async def test_malformed_client_messages_get_an_error_and_keep_the_stream(owner, job):
    comm = await communicator(job.id, owner)
    await comm.connect()
    assert (await comm.receive_json_from())["type"] == "state"
    await comm.send_to(text_data="{not json")
    assert (await comm.receive_json_from())["type"] == "error"
    await comm.send_to(bytes_data=b"\xff\xfe")
    assert (await comm.receive_json_from())["type"] == "error"
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    assert (await receive_until_end(comm))[-1] == {"type": "end"}


async def test_many_viewers_share_one_poller(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comms = [await communicator(job.id, owner) for _ in range(20)]
    for comm in comms:
        await comm.connect()
        await comm.receive_json_from()
    assert len(tail._tails()[f"job.{job.id}"].viewers) == 20
    await sync_to_async(add_lines)(job, "for everyone")
    for comm in comms:
        message = await comm.receive_json_from(timeout=3)
        assert message["lines"][0]["line"] == "for everyone"
    for comm in comms:
        await comm.disconnect()


async def wait_for_poller(poller, seq):
    for _ in range(200):
        if poller.last_seq == seq:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the poller never read line {seq}")


async def test_a_viewer_that_fell_behind_catches_up_in_one_frame_without_gaps_or_repeats(owner, job):
    from jobs.source import JobSource

    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    events = aiter(Viewer(JobSource(job.id)))
    assert isinstance(await anext(events), State)
    poller = tail._tails()[f"job.{job.id}"]
    await sync_to_async(add_lines)(job, "replayed")
    await wait_for_poller(poller, 1)
    (queue,) = poller.viewers
    while not queue.empty():  # what the poller sent so far is in the replay
        queue.get_nowait()
    assert [row["seq"] for row in (await anext(events)).rows] == [1]
    for batch in range(3):  # three writes, each published on its own while the viewer reads nothing
        await sync_to_async(add_lines)(job, f"batch {batch} a", f"batch {batch} b")
        await wait_for_poller(poller, 1 + 2 * (batch + 1))
    lines = await anext(events)
    assert [row["seq"] for row in lines.rows] == [2, 3, 4, 5, 6, 7]
    await events.aclose()


async def test_viewers_coming_and_going_never_wait_for_djangos_one_thread_sensitive_thread(
    owner, job, count_thread_sensitive_hops
):
    """Channels hops through that one thread around every handler: a crowd would queue there."""
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comm = await communicator(job.id, owner)  # its session cookie is made before counting
    hops = count_thread_sensitive_hops()
    await comm.connect()
    assert (await comm.receive_json_from(timeout=5))["state"] == "running"
    await comm.disconnect()
    assert hops == []


async def test_a_crowd_arriving_with_the_poller_takes_the_pollers_state_not_one_read_each(
    owner, job, monkeypatch
):
    from jobs.source import JobSource

    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    reads = []
    read_state = JobSource.read_state
    monkeypatch.setattr(JobSource, "read_state", lambda self: reads.append(1) or read_state(self))
    comms = [await communicator(job.id, owner) for _ in range(10)]
    await asyncio.gather(*(comm.connect() for comm in comms))
    for comm in comms:
        assert (await comm.receive_json_from(timeout=5))["state"] == "running"
    assert len(reads) <= 2  # the poller's start, and its first look
    for comm in comms:
        await comm.disconnect()


async def test_a_crowd_watching_a_job_finish_gets_its_end_from_the_poller_not_one_read_each(
    owner, job, monkeypatch
):
    from jobs.source import JobSource

    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    await sync_to_async(add_lines)(job, "before")
    comms = [await communicator(job.id, owner) for _ in range(10)]
    await asyncio.gather(*(comm.connect() for comm in comms))
    for comm in comms:
        assert (await comm.receive_json_from(timeout=5))["state"] == "running"
        assert seqs([await comm.receive_json_from(timeout=5)]) == [1]
    reads = []
    for name in ("read_state", "read_lines"):
        monkeypatch.setattr(JobSource, name, counted_read(reads, getattr(JobSource, name)))
    await sync_to_async(add_lines)(job, "last")
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    for comm in comms:
        messages = await receive_until_end(comm)
        assert seqs(messages) == [2]
        assert [m["state"] for m in messages if m["type"] == "state"] == ["succeeded"]
    assert len(reads) <= 4  # the poller's looks; none per viewer


def counted_read(reads, read):
    def counted(self, *args):
        reads.append(read.__name__)
        return read(self, *args)

    return counted


async def test_a_quiet_stream_sends_every_viewer_a_keepalive(owner, job, monkeypatch):
    from jobs.source import JobSource

    monkeypatch.setattr(tail, "KEEPALIVE_SECONDS", 0.2)
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    viewers = [aiter(Viewer(JobSource(job.id))) for _ in range(2)]
    for events in viewers:
        assert isinstance(await anext(events), State)
        assert await asyncio.wait_for(anext(events), 5) == Ping()
        await events.aclose()


async def test_viewers_joining_a_running_job_replay_from_the_poller_not_the_database(owner, job, monkeypatch):
    from jobs.source import JobSource

    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    await sync_to_async(add_lines)(job, *(f"line {i}" for i in range(1, 51)))
    first = await communicator(job.id, owner)
    await first.connect()
    await first.receive_json_from()
    assert len((await first.receive_json_from())["lines"]) == 50
    reads = []
    read_lines = JobSource.read_lines
    monkeypatch.setattr(
        JobSource,
        "read_lines",
        lambda self, after, limit: reads.append(after) or read_lines(self, after, limit),
    )
    comms = [await communicator(job.id, owner) for _ in range(20)]
    for comm in comms:
        await comm.connect()
        assert (await comm.receive_json_from())["type"] == "state"
        assert [row["seq"] for row in (await comm.receive_json_from())["lines"]] == list(range(1, 51))
    assert 0 not in reads  # nobody read the log from its start: the poller's memory served them all
    for comm in (first, *comms):
        await comm.disconnect()


# --- SSE -----------------------------------------------------------------------


def parse_sse(text):
    events = []
    for block in text.strip().split("\n\n"):
        fields = {}
        for raw in block.split("\n"):
            if raw.startswith(":"):
                continue
            key, _, value = raw.partition(": ")
            fields[key] = value
        if "event" in fields:
            events.append(fields)
    return events


async def read_sse(client, path, **headers):
    response = await client.get(path, headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    body = b""
    async for chunk in response.streaming_content:
        body += chunk if isinstance(chunk, bytes) else chunk.encode()
    return parse_sse(body.decode())


async def async_client(user):
    client = AsyncClient()
    await client.aforce_login(user)
    return client


async def test_sse_streams_lines_state_and_end(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    await sync_to_async(add_lines)(job, "one", XSS)
    client = await async_client(owner)

    async def finish_later():
        await asyncio.sleep(0.3)
        await sync_to_async(add_lines)(job, "three")
        await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)

    finisher = asyncio.create_task(finish_later())
    events = await read_sse(client, f"/jobs/{job.id}/events")
    await finisher
    assert events[0]["event"] == "state" and json.loads(events[0]["data"])["state"] == "running"
    lines = [e for e in events if e["event"] == "line"]
    assert [e["id"] for e in lines] == ["1", "2", "3"]
    second = json.loads(lines[1]["data"])
    assert second.pop("at") and second == {"seq": 2, "stream": "stdout", "line": XSS}
    assert json.loads([e for e in events if e["event"] == "state"][-1]["data"])["state"] == "succeeded"
    assert events[-1]["event"] == "end"


async def test_sse_resumes_from_last_event_id_without_duplicates(owner, job):
    await sync_to_async(add_lines)(job, *[f"l{i}" for i in range(1, 6)])
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    client = await async_client(owner)
    events = await read_sse(client, f"/jobs/{job.id}/events", last_event_id="3")
    assert [e["id"] for e in events if e["event"] == "line"] == ["4", "5"]
    events = await read_sse(client, f"/jobs/{job.id}/events?after=4")
    assert [e["id"] for e in events if e["event"] == "line"] == ["5"]


async def test_sse_outsider_gets_404_and_anonymous_403(other_owner, job):
    client = await async_client(other_owner)
    assert (await client.get(f"/jobs/{job.id}/events")).status_code == 404
    assert (await AsyncClient().get(f"/jobs/{job.id}/events")).status_code == 403


async def test_sse_rejects_a_bad_resume_point(owner, job):
    client = await async_client(owner)
    response = await client.get(f"/jobs/{job.id}/events?after=-1")
    assert response.status_code == 400


async def test_a_10_mb_line_reaches_the_websocket_in_frames_under_1_mib(owner, job):
    chunk = "x" * 4096  # hostctl stores an over-long line as 4 KiB rows
    await sync_to_async(add_lines)(job, *[chunk] * 2560)
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0)
    comm = await communicator(job.id, owner)
    await comm.connect()
    sizes, lines = [], []
    while True:
        output = await comm.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        sizes.append(len(output["text"].encode()))
        message = json.loads(output["text"])
        lines += message.get("lines", [])
    assert max(sizes) < 1024 * 1024
    assert [row["seq"] for row in lines] == list(range(1, 2561))
    assert sum(len(row["line"]) for row in lines) == 2560 * 4096


async def test_a_deeply_nested_message_closes_4400_with_a_reason_and_stops_the_stream(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    comm = await communicator(job.id, owner)
    await comm.connect()
    assert (await comm.receive_json_from())["type"] == "state"
    await comm.send_to(text_data="[" * 3000 + "]" * 3000)
    error = await comm.receive_json_from()
    assert error["type"] == "error" and "nested" in error["error"]
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4400}
    await sync_to_async(add_lines)(job, "after the close")
    nothing = await comm.receive_nothing(timeout=0.5)
    assert nothing, await comm.receive_output()


async def test_lines_faster_than_a_frame_reach_viewers_together_in_fewer_reads(owner, job, monkeypatch):
    """The poller looks at most once per frame (tail.frame_seconds: longer with more viewers;
    here one viewer stands for a crowd): a line every 5 ms costs one read, and one message
    per viewer, per frame, not per line."""
    from jobs.notify import notify_job
    from jobs.source import JobSource

    monkeypatch.setattr(tail, "SENDS_PER_SECOND", 20)  # one viewer: 50 ms frames

    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    events = aiter(Viewer(JobSource(job.id)))
    assert isinstance(await anext(events), State)
    reads = []
    monkeypatch.setattr(JobSource, "read_lines", counted_read(reads, JobSource.read_lines))
    began = time.monotonic()
    for i in range(1, 21):
        await sync_to_async(add_lines)(job, f"line {i}")
        await sync_to_async(notify_job)(job.id, i)
        await asyncio.sleep(0.005)
    seen = []
    while len(seen) < 20:
        seen += [row["seq"] for row in (await asyncio.wait_for(anext(events), 5)).rows]
    assert seen == list(range(1, 21))
    assert len(reads) <= (time.monotonic() - began) / tail.frame_seconds(1) + 2
    await events.aclose()
