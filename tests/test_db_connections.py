"""Database connections: none outlives its request but on the web processes' warm threads
(SQLite, one each: l4d2site/sync_threads.py); on PostgreSQL a pool per process owns them,
so a burst of requests (or a busy worker) never leaves more than L4D2_DB_POOL_SIZE behind
and never runs the server out of connections."""

import os
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from jobs.models import Job, JobKind
from l4d2site import sync_threads

from .processes import free_port, running, start_daphne, start_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's (SQLite has no server to run out of connections)")


def connections_of(pid):
    """Open connections of one process to this test database: as PostgreSQL sees them, or
    the process's descriptors of the SQLite file."""
    if connection.vendor == "sqlite":
        fds = Path(f"/proc/{pid}/fd").iterdir()
        return sum(
            1 for fd in fds if os.path.realpath(fd) == os.path.realpath(connection.settings_dict["NAME"])
        )
    ports = {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.raddr}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_port FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return sum(1 for (port,) in cursor.fetchall() if port in ports)


def get(url, cookie):
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_hundred_concurrent_requests_leave_at_most_the_pool_size_of_connections(owner, server):
    client = Client()
    client.force_login(owner)
    session = client.cookies["sessionid"].value
    port = free_port()
    with running(start_daphne(port)) as daphne:
        base = f"http://127.0.0.1:{port}"
        # Half logged in (pages with queries), half anonymous with a made-up session id.
        urls = [
            (f"{base}/servers/{server.id}", session) if i % 2 else (f"{base}/servers/", f"madeup{i}")
            for i in range(100)
        ]
        with ThreadPoolExecutor(100) as pool:
            answers = Counter(pool.map(lambda args: get(*args), urls))
        assert answers == {200: 100}
        # SQLite: one per warm thread, every other request's closed with it; PostgreSQL: the pool's.
        assert connections_of(daphne.pid) <= (
            settings.DB_POOL_SIZE if connection.vendor == "postgresql" else sync_threads.THREADS
        )


def test_a_worker_running_jobs_holds_at_most_the_pool_size_of_connections(owner, make_server, sim_host):
    on_postgresql()
    for _ in range(4):
        Job.enqueue(make_server(), JobKind.INSTALL, owner)
    with running(start_worker("--concurrency", "4", HOSTCTL_ROOT=sim_host, HOSTCTL_SIM_SECONDS=1)) as worker:
        most = 0

        def finished():
            nonlocal most
            most = max(most, connections_of(worker.pid))
            return not Job.objects.exclude(state__in=("succeeded", "failed")).exists()

        wait_until(finished, timeout=60, interval=0.05)
        assert 0 < most <= settings.DB_POOL_SIZE
