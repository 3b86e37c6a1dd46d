"""The panel's database going away under a real worker, at each point of a job's life.

PostgreSQL only: an outage is made by refusing new connections to the test database
(`ALLOW_CONNECTIONS false`) and terminating every connection but the test's own, for a
few seconds, exactly as a restart looks to the worker (its connections die, new ones
fail), without touching the other databases of the server. Every job must still end in
its true final state, its server as its owner asked, and the next queued job must run.
"""

import re
import threading

import psutil
import psycopg
import pytest
from django.db import connection

from jobs.models import Job, JobKind, JobLog, JobState, WorkerProcess
from jobs.recovery import process_identity
from servers.models import ActualState, DesiredState, Server

from .processes import running, start_worker, stop_gracefully, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.services]

OUTAGE_SECONDS = 3
# What owners must never read in a log: the database's errors (they name its address and port).
LEAKS = re.compile(r"OperationalError|InterfaceError|psycopg|connection to server|FATAL|database system")


@pytest.fixture(autouse=True)
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("outages are made with PostgreSQL's ALLOW_CONNECTIONS")


class Outage:
    """Make the test database unavailable to everyone but this test, for a while."""

    def __init__(self):
        settings = connection.settings_dict
        self.name = settings["NAME"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (self.spared,) = cursor.fetchone()
        self.admin = psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            dbname="postgres",
            autocommit=True,
        )
        self.timer = None

    def _allow(self, allowed):
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS {str(allowed).lower()}')

    def begin(self, seconds=OUTAGE_SECONDS):
        """From now for `seconds` (None: until end()): existing connections die, new ones are refused."""
        self._allow(False)
        # Every connection of the processes under test dies; this test process's own (its
        # threads keep theirs across tests) are spared, or later tests would find them dead.
        ours = [c.laddr.port for c in psutil.Process().net_connections("tcp") if c.raddr]
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> %s AND NOT (client_port = ANY(%s))",
            [self.name, self.spared, ours],
        )
        if seconds is not None:
            self.timer = threading.Timer(seconds, self.end)
            self.timer.start()

    def end(self):
        self._allow(True)

    def close(self):
        if self.timer:
            self.timer.cancel()
        self._allow(True)
        self.admin.close()


@pytest.fixture
def outage():
    made = Outage()
    yield made
    made.close()


@pytest.fixture
def worker(sim_host, tmp_path):
    log = tmp_path / "worker.log"
    proc = start_worker(
        "--poll",
        "0.2",
        log_path=log,
        HOSTCTL_ROOT=sim_host,
        HOSTCTL_SIM_SECONDS=1.5,
        L4D2_NODE_HEARTBEAT_SECONDS=0.5,
        L4D2_WARNING_SECONDS=2,
        HOSTCTL_SIM_PLAYERS="",
    )
    with running(proc):
        yield proc
        stop_gracefully(proc)


def finished(job, timeout=90):
    def done():
        job.refresh_from_db()
        return job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    wait_until(done, timeout=timeout, interval=0.1)
    return job


def lines_of(job):
    return list(JobLog.objects.filter(job=job).order_by("seq").values_list("seq", "line"))


def assert_log_is_whole_and_says_nothing_of_the_database(job):
    rows = lines_of(job)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    assert [line for _, line in rows if LEAKS.search(line)] == []
    return [line for _, line in rows]


def when(predicate, timeout=60):
    wait_until(predicate, timeout=timeout, interval=0.01)


def has_line(job, text):
    return JobLog.objects.filter(job=job, line__contains=text).exists()


POINTS = {
    # The outage begins as soon as the test sees the job reach this point.
    "claim": None,  # before the job is queued: the worker's claim meets the outage
    "first line": lambda job: Job.objects.filter(pk=job.pk, state=JobState.RUNNING).exists(),
    "progress": lambda job: Job.objects.filter(pk=job.pk, progress__gt=0).exists(),
    "refresh and finish": lambda job: has_line(job, "Finished"),
}


@pytest.mark.parametrize("point", POINTS)
def test_an_install_survives_an_outage_and_the_next_job_runs(point, worker, udp_server, outage, owner):
    if POINTS[point] is None:
        outage.begin()
    install = Job.enqueue(udp_server, JobKind.INSTALL, owner)
    start = Job.enqueue(udp_server, JobKind.START, owner)  # queued behind it (FIFO per server)
    if POINTS[point] is not None:
        when(lambda: POINTS[point](install))
        outage.begin()
    assert finished(install).state == JobState.SUCCEEDED
    lines = assert_log_is_whole_and_says_nothing_of_the_database(install)
    assert lines[-1] == "Server is now stopped."
    assert finished(start).state == JobState.SUCCEEDED
    udp_server.refresh_from_db()
    assert udp_server.actual_state == ActualState.RUNNING


def test_an_update_of_a_running_server_survives_an_outage_and_leaves_it_running(
    worker, udp_server, outage, owner
):
    Job.enqueue(udp_server, JobKind.INSTALL, owner)
    assert finished(Job.enqueue(udp_server, JobKind.START, owner)).state == JobState.SUCCEEDED
    # The panel knows of a newer build, so the update really stops, updates and starts.
    Server.objects.filter(pk=udp_server.pk).update(latest_build="99999999")
    update = Job.enqueue(udp_server, JobKind.UPDATE, owner)
    queued_after = Job.enqueue(udp_server, JobKind.RESTART, owner)
    when(lambda: has_line(update, "Server stopped"))  # stopped, about to update
    outage.begin()
    assert finished(update).state == JobState.SUCCEEDED
    lines = assert_log_is_whole_and_says_nothing_of_the_database(update)
    assert any(line.startswith("Server is up") for line in lines)
    assert finished(queued_after).state == JobState.SUCCEEDED
    udp_server.refresh_from_db()
    assert (udp_server.desired_state, udp_server.actual_state) == (DesiredState.RUNNING, ActualState.RUNNING)


def test_a_job_marked_running_for_this_worker_but_not_run_by_it_is_finished_at_its_next_heartbeat(
    worker, server, owner
):
    """A claim whose answer an outage swallowed: the row says this worker runs it, the worker does not."""
    identity = process_identity(worker.pid)
    wait_until(lambda: WorkerProcess.objects.filter(identity=identity).exists())
    lost = Job.objects.create(
        server=server, kind=JobKind.INSTALL, state=JobState.RUNNING, claimed_by=identity, requested_by=owner
    )
    finished(lost, timeout=20)
    assert lost.state == JobState.FAILED
    (line,) = [line for _, line in lines_of(lost)]
    assert line.startswith("This job's worker is alive but was not running it")


def test_a_start_left_unfinished_by_its_worker_queues_a_start_of_the_server_it_should_run(
    worker, udp_server, owner
):
    Job.enqueue(udp_server, JobKind.INSTALL, owner)
    first = Job.enqueue(udp_server, JobKind.START, owner)
    assert finished(first).state == JobState.SUCCEEDED
    stop = Job.enqueue(udp_server, JobKind.STOP, owner)
    assert finished(stop).state == JobState.SUCCEEDED
    # As if the worker had stopped the server for an update and then lost the job.
    udp_server.__class__.objects.filter(pk=udp_server.pk).update(desired_state=DesiredState.RUNNING)
    lost = Job.objects.create(
        server=udp_server,
        kind=JobKind.UPDATE,
        state=JobState.RUNNING,
        claimed_by=process_identity(worker.pid),
        requested_by=owner,
    )
    finished(lost, timeout=20)
    start = wait_until(lambda: Job.objects.filter(parent=lost, kind=JobKind.START).first())
    assert finished(start).state == JobState.SUCCEEDED
    assert lines_of(start)[0][1].startswith(f"The server should be running, but job #{lost.id} ended")
    udp_server.refresh_from_db()
    assert udp_server.actual_state == ActualState.RUNNING


def test_owners_read_how_long_the_database_was_away_in_words(worker, udp_server, outage, owner, tmp_path):
    install = Job.enqueue(udp_server, JobKind.INSTALL, owner)
    when(lambda: Job.objects.filter(pk=install.pk, state=JobState.RUNNING).exists())
    outage.begin(seconds=None)
    # Until the job's end meets it: the worker's log (for staff) has the details.
    when(lambda: "database unavailable for refreshed_state" in (tmp_path / "worker.log").read_text())
    outage.end()
    assert finished(install).state == JobState.SUCCEEDED
    lines = assert_log_is_whole_and_says_nothing_of_the_database(install)
    assert any(
        re.fullmatch(r"The panel's database was unavailable for \d+ s; the job went on\.", line)
        for line in lines
    )
