"""The web tier as `make run` starts it (scripts/web.py, DESIGN.md §15): several Daphne
processes on one port, each accepting from its own socket (SO_REUSEPORT), every one of them
reached by the wake-ups."""

import json
import os
import socket
import subprocess
import sys
from contextlib import ExitStack

import psutil
import pytest
from django.utils import timezone
from websockets.sync.client import connect

from jobs.models import JobState
from streams import wake

from .processes import ROOT, free_port, running, start_web, wait_until
from .test_job_logs import add_lines, session_cookie, set_state

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BACKLOG = 1024  # scripts/web.py's, and deploy/l4d2-web@.socket's Backlog=


def listen_queue_length(port):
    """The accept queue a listening socket was given, as `ss` reports it (its Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True)
    (line,) = out.stdout.splitlines()
    return int(line.split()[2])


def accepted_by(web, client):
    """The pid of the Daphne process holding the server end of the connection `client`."""
    peer = client.getsockname()
    for daphne in psutil.Process(web.pid).children():
        if any(c.raddr and tuple(c.raddr) == peer for c in daphne.net_connections("tcp")):
            return daphne.pid
    return None


def until_each_process_has_one(web, open_connection, keep, processes=2, tries=100):
    """{pid: connection}: connections opened until every Daphne holds one (kept open in the
    ExitStack `keep`; the extras are closed). The kernel picks the process that accepts each."""
    held = {}
    with ExitStack() as extras:
        for _ in range(tries):
            stack = ExitStack()
            conn = stack.enter_context(open_connection())
            pid = wait_until(lambda conn=conn: accepted_by(web, conn.socket), timeout=10)
            if pid in held:
                extras.enter_context(stack)
            else:
                held[pid] = conn
                keep.enter_context(stack)
            if len(held) == processes:
                return held
    raise AssertionError(f"only {len(held)} of {processes} processes accepted in {tries} connections")


class HttpConnection:
    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        request = f"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
        self.socket.sendall(request.encode())
        self.status = int(self.socket.recv(4096).split()[1])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.socket.close()


def test_the_web_tier_listens_with_room_for_a_crowd_not_twisteds_50():
    """200 browsers opening a page in one second must not find the door shut (Linux drops
    handshakes beyond the backlog, and their clients retry a second later)."""
    somaxconn = int(open("/proc/sys/net/core/somaxconn").read())
    port = free_port()
    with running(start_web(port, processes=1)):
        assert listen_queue_length(port) == min(BACKLOG, somaxconn)
    assert BACKLOG >= 1024


def test_two_daphne_processes_answer_on_one_port():
    port = free_port()
    with running(start_web(port, processes=2)) as web, ExitStack() as keep:
        wait_until(lambda: len(psutil.Process(web.pid).children()) == 2, timeout=10)
        answered = until_each_process_has_one(web, lambda: HttpConnection(port), keep)
        assert len(answered) == 2
        assert [conn.status for conn in answered.values()] == [200, 200]


def test_a_burst_of_connections_is_spread_over_the_processes():
    """Forty browsers connecting at once land on both Daphnes, not on whichever woke first
    (with one shared socket, Twisted's accept loop took whole bursts: 49 of 50)."""
    port = free_port()
    with running(start_web(port, processes=2)) as web, ExitStack() as keep:
        wait_until(lambda: len(psutil.Process(web.pid).children()) == 2, timeout=10)
        clients = [
            keep.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10)) for _ in range(40)
        ]
        pids = [wait_until(lambda client=client: accepted_by(web, client), timeout=10) for client in clients]
        per_process = sorted(pids.count(pid) for pid in set(pids))
        assert len(per_process) == 2 and per_process[0] >= 5, per_process  # binomial: below 5 once in 10**7


def test_a_second_web_tier_on_a_port_in_use_is_refused():
    port = free_port()
    with running(start_web(port, processes=2)):
        out = subprocess.run(
            [sys.executable, "scripts/web.py", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out.stderr


def test_a_daphne_that_dies_is_replaced_and_sigterm_stops_them_all():
    port = free_port()
    web = start_web(port, processes=2)
    with running(web):
        launcher = psutil.Process(web.pid)
        first = wait_until(lambda: len(launcher.children()) == 2 and launcher.children())
        first[0].kill()
        wait_until(lambda: len(kids := launcher.children()) == 2 and first[0] not in kids)
        daphnes = launcher.children()
        with HttpConnection(port) as conn:
            assert conn.status == 200
        web.terminate()
        assert web.wait(30) == 0
    assert not any(daphne.is_running() for daphne in daphnes)


def test_a_bad_process_count_is_refused_with_a_reason():
    out = subprocess.run(
        [sys.executable, "scripts/web.py", "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "L4D2_WEB_PROCESSES": "two"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "L4D2_WEB_PROCESSES must be a whole number of at least 1, not 'two'" in out.stderr


@pytest.mark.parametrize("local_wakeups", ["1", "0"], ids=["woken", "wake-up lost: the poll"])
def test_a_line_reaches_a_viewer_on_either_process(owner, job, local_wakeups):
    """The worker's wake-up reaches every web process (each binds its own socket on the
    datagram bus); with none at all (L4D2_LOCAL_WAKEUPS=0), the poll still brings the line."""
    set_state(job, JobState.RUNNING, started_at=timezone.now())
    port = free_port()
    headers = {"Cookie": session_cookie(owner).decode(), "Origin": f"http://127.0.0.1:{port}"}
    url = f"ws://127.0.0.1:{port}/ws/jobs/{job.id}/logs"
    web = start_web(port, processes=2, L4D2_LOCAL_WAKEUPS=local_wakeups)
    with running(web), ExitStack() as keep:
        wait_until(lambda: len(psutil.Process(web.pid).children()) == 2, timeout=10)
        viewers = until_each_process_has_one(web, lambda: connect(url, additional_headers=headers), keep)
        for viewer in viewers.values():
            assert json.loads(viewer.recv(30))["state"] == "running"
        if local_wakeups == "1":
            listening = {path.name for path in wake.wake_dir().iterdir()}
            assert {f"{pid}.sock" for pid in viewers} <= listening
        add_lines(job, "from the worker")
        wake.bus.publish(f"job.{job.id}", 1)  # as the worker's sink does after its commit
        for viewer in viewers.values():
            frame = json.loads(viewer.recv(30))
            assert frame["type"] == "lines" and frame["lines"][0]["line"] == "from the worker"
