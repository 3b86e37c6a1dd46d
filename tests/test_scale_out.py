"""Scale-out on PostgreSQL + Redis: many workers on one queue, Redis wake-ups, Redis outages."""

import socket
from collections import defaultdict

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, WorkerProcess
from jobs.recovery import Recovery
from servers.models import Node

from .processes import running, start_worker, wait_until
from .test_job_logs import a_viewer_gets_both_lines_of_a_running_job

pytestmark = pytest.mark.django_db(transaction=True)


def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: runs in the PostgreSQL + Redis pass of `make test`")


@pytest.mark.slow
@pytest.mark.services
def test_four_workers_run_400_jobs_over_40_servers_exactly_once_in_order(make_server, owner, tmp_path):
    on_postgresql()
    servers = [make_server() for _ in range(40)]
    kinds = [JobKind.STOP, JobKind.UPDATE]  # both quick on a server that is not installed
    jobs = [
        Job.objects.create(server=servers[i % 40], kind=kinds[(i // 40) % 2], requested_by=owner)
        for i in range(400)
    ]
    workers = [
        start_worker(
            "--once",
            "--poll",
            "0.05",
            "--concurrency",
            "3",
            log_path=tmp_path / f"w{n}.log",
            HOSTCTL_ROOT=tmp_path / "servers",
        )
        for n in range(4)
    ]
    for worker in workers:
        with running(worker):
            assert worker.wait(240) == 0
    done = list(Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("id"))
    assert {j.state for j in done} <= {JobState.SUCCEEDED, JobState.FAILED}
    assert all(j.finished_at for j in done)
    # Exactly once: every job has exactly one opening line.
    openings = defaultdict(int)
    for job_id in JobLog.objects.filter(seq=1, line__startswith="Running ").values_list("job_id", flat=True):
        openings[job_id] += 1
    assert all(openings[j.pk] == 1 for j in done)
    assert len({j.claimed_by for j in done}) > 1  # the work really was shared
    by_server = defaultdict(list)
    for job in done:
        by_server[job.server_id].append(job)
    for server_jobs in by_server.values():
        started = sorted(server_jobs, key=lambda j: j.started_at)
        assert [j.pk for j in started] == [j.pk for j in server_jobs]  # FIFO per server
        for earlier, later in zip(started, started[1:], strict=False):
            assert earlier.finished_at <= later.started_at  # one at a time per server


def test_node_worker_claims_only_its_nodes_servers(make_server, owner):

    east = Node.objects.create(name="east")
    on_east = Job.enqueue(make_server(node=east), JobKind.STOP, owner)
    on_panel = Job.enqueue(make_server(), JobKind.STOP, owner)

    def claim(node):
        return Job.objects.claim(node_name=node, worker="test-host:1:1.00")

    assert claim("west") is None
    assert claim("east").pk == on_east.pk
    assert claim(None).pk == on_panel.pk


async def test_tails_fall_back_to_polling_when_redis_is_gone(owner, job, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{dead}/0"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL]},
        }
    }
    await a_viewer_gets_both_lines_of_a_running_job(owner, job)


def test_a_silent_nodes_running_jobs_are_failed_after_the_timeout(make_server, owner, settings):
    from datetime import timedelta

    settings.NODE_JOB_TIMEOUT_SECONDS = 60
    long_ago = timezone.now() - timedelta(seconds=600)
    silent = Node.objects.create(name="silent", last_heartbeat=long_ago)
    fresh = Node.objects.create(name="fresh", last_heartbeat=timezone.now())
    WorkerProcess.objects.create(identity="west-1:7:1.00", node_name="silent", last_heartbeat=long_ago)
    WorkerProcess.objects.create(identity="east-1:8:1.00", node_name="fresh")
    stuck = Job.enqueue(make_server(node=silent), JobKind.INSTALL, owner)
    alive = Job.enqueue(make_server(node=fresh), JobKind.INSTALL, owner)
    for job, worker in ((stuck, "west-1:7:1.00"), (alive, "east-1:8:1.00")):
        Job.objects.filter(pk=job.pk).update(
            state=JobState.RUNNING, started_at=long_ago, updated_at=long_ago, claimed_by=worker
        )
    JobLog.objects.create(job=stuck, seq=1, stream="stdout", line="downloading")
    Recovery("test-host:1:1.00").recover_silent()
    stuck.refresh_from_db()
    alive.refresh_from_db()
    assert stuck.state == JobState.FAILED and stuck.finished_at
    last = JobLog.objects.filter(job=stuck).order_by("-seq").first()
    assert last.seq == 2 and last.stream == "system"
    assert "on node silent stopped heartbeating" in last.line
    assert alive.state == JobState.RUNNING


@pytest.mark.slow
def test_runworker_node_heartbeats_and_runs_its_servers_jobs(make_server, owner, tmp_path):
    node = Node.objects.create(name="east")
    mine = Job.enqueue(make_server(node=node), JobKind.STOP, owner)
    other = Job.enqueue(make_server(), JobKind.STOP, owner)
    worker = start_worker(
        "--node", "east", "--poll", "0.05", log_path=tmp_path / "w.log", HOSTCTL_ROOT=tmp_path / "servers"
    )
    with running(worker):
        wait_until(lambda: Job.objects.get(pk=mine.pk).state == JobState.SUCCEEDED)
        node.refresh_from_db()
        assert node.is_online
    assert Job.objects.get(pk=other.pk).state == JobState.QUEUED


def test_offline_node_shows_on_server_and_job_pages_and_staff_see_the_node(
    staff_client, owner_client, make_server, owner
):
    node = Node.objects.create(name="far-away")  # never heartbeated
    server = make_server(node=node)
    job = Job.enqueue(server, JobKind.START, owner)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "host offline" in page and "far-away" not in page
    staff_page = staff_client.get(f"/jobs/{job.id}").content.decode()
    assert "host offline" in staff_page and "far-away" in staff_page
    assert "far-away" in staff_client.get("/admin/jobs").content.decode()
    assert "far-away" in staff_client.get("/servers/").content.decode()
