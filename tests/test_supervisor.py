"""The supervisor (DESIGN.md §8): live state, crashes, automatic restarts, samples; with real srcds.

Two ways, like the worker's tests: in-process (the test launches srcds through a
`runworker --once` and drives `Supervisor.run_once` itself, so every step is
deterministic) and as real `runworker` processes that get killed servers, hangs and
restarts. Timing targets ("within 2 s") are measured in bench/supervision.py; here
the waits are generous and the assertions are about what happened.
"""

import os
import signal
from datetime import timedelta

import psutil
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hostctl import srcds
from jobs.models import Job, JobKind, JobLog, JobState, JobTrigger
from servers import l4d2_facade
from servers.events import server_event
from servers.models import (
    ActualState,
    CrashAction,
    CrashReason,
    Server,
    ServerCrash,
    ServerSample,
    SupervisorBeat,
)
from servers.samples import prune_samples
from servers.supervisor import Supervisor

from .processes import running, start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def host(sim_host):
    return sim_host


@pytest.fixture
def supervisor():
    loop = Supervisor(identity="test-host:1:1.00", node_name=None)
    yield loop
    loop.close()


@pytest.fixture
def game(udp_server):
    return udp_server


@pytest.fixture
def events():
    heard = []

    def listen(sender, name, server, text, job, **kwargs):
        if name.startswith("server."):  # not the jobs' own job.succeeded
            heard.append((name, text, job))

    server_event.connect(listen)
    yield heard
    server_event.disconnect(listen)


def run_jobs():
    call_command("runworker", once=True, poll=0.05)


def start(server, owner):
    """Install and start it through the worker (in this process: this process launched srcds)."""
    Job.enqueue(server, JobKind.INSTALL, owner)
    job = Job.enqueue(server, JobKind.START, owner)
    run_jobs()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, log_of(job)
    return job


def log_of(job):
    return list(JobLog.objects.filter(job=job).order_by("seq").values_list("stream", "line"))


def pid_of(server):
    return int((l4d2_facade.spec_for(server).install_dir / "srcds.pid").read_text().split()[0])


def console(server, command):
    assert srcds.send_console(srcds.files_for(l4d2_facade.spec_for(server)).fifo, command)


def kill_and_hear(supervisor, server, signum=signal.SIGKILL):
    """Kill its srcds; return once hostctl told the supervisor it exited."""
    os.kill(pid_of(server), signum)
    wait_until(supervisor.exited.is_set, timeout=15)


def fresh(server):
    server.refresh_from_db()
    return server


# --- state, map, players -----------------------------------------------------------------


def test_a_pass_over_unchanged_servers_writes_only_its_beat(make_server, supervisor):
    for _ in range(20):
        make_server()
    supervisor.supervise(full=True)  # first look: unknown -> not installed, 20 rows
    assert set(Server.objects.values_list("actual_state", flat=True)) == {ActualState.NOT_INSTALLED}
    with CaptureQueriesContext(connection) as queries:
        supervisor.supervise(full=True)
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("UPDATE", "INSERT", "DELETE")]
    assert len(writes) == 1 and "servers_supervisorbeat" in writes[0]


def test_each_worker_watches_only_the_servers_of_its_node(make_server, supervisor):
    from servers.models import Node

    here, there = make_server(), make_server(node=Node.objects.create(name="eu-1"))
    supervisor.supervise(full=True)
    assert (fresh(here).actual_state, fresh(there).actual_state) == (
        ActualState.NOT_INSTALLED,
        ActualState.UNKNOWN,
    )
    node_supervisor = Supervisor(identity="test-host:2:1.00", node_name="eu-1")
    try:
        node_supervisor.supervise(full=True)
    finally:
        node_supervisor.close()
    assert fresh(there).actual_state == ActualState.NOT_INSTALLED
    assert set(SupervisorBeat.objects.values_list("node_name", flat=True)) == {"", "eu-1"}


def test_a_running_server_shows_map_players_and_its_process_uptime(game, owner, supervisor):
    start(game, owner)
    supervisor.supervise(full=True)
    server = fresh(game)
    assert server.actual_state == ActualState.RUNNING
    assert (server.map_seen, server.player_count, server.max_players_seen) == ("c1m1_hotel", 3, 8)
    assert [p["name"] for p in server.players] == ["Coachella", "witch_please", "[TTV]Zoey"]
    started = psutil.Process(pid_of(game)).create_time()
    assert abs(server.actual_state_since.timestamp() - started) < 1
    # Player times are stored as join times, so the next look changes nothing.
    with CaptureQueriesContext(connection) as queries:
        supervisor.supervise(full=True)
    assert not [q for q in queries if q["sql"].startswith('UPDATE "servers_server"')]


def test_players_joining_and_leaving_show_up(game, owner, supervisor):
    start(game, owner)
    console(game, "sim_players Ellis,BOT:Coach")
    wait_until(lambda: supervisor.supervise(full=True) or fresh(game).player_count == 2, timeout=15)
    assert [p["name"] for p in fresh(game).players] == ["Ellis", "Coach"]


# --- crashes ------------------------------------------------------------------------------


def test_kill_9_of_a_server_it_launched_is_a_crash_at_once_then_restarted(game, owner, supervisor, events):
    start_job = start(game, owner)
    supervisor.run_once()  # a full pass; the next one is 5 s away
    next_full = supervisor.next_full
    pid = pid_of(game)
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    assert supervisor.next_full == next_full  # it was the short pass the exit woke, not a full one

    crash = ServerCrash.objects.get(server=game)
    assert (crash.reason, crash.exit_status, crash.action) == (CrashReason.UNKNOWN, -9, CrashAction.RESTARTED)
    assert "killed by SIGKILL (signal 9)" in crash.detail
    assert fresh(game).actual_state == ActualState.CRASHED
    restart = Job.objects.get(trigger=JobTrigger.MONITOR)
    assert (restart.kind, restart.state, restart.requested_by, restart.parent) == (
        JobKind.RESTART,
        JobState.QUEUED,
        None,
        start_job,
    )
    log = log_of(restart)
    assert "crashed" in log[0][1]
    assert log[1] == ("stderr", f"Crash reason: Unknown. {crash.detail}")
    console_lines = [line for stream, line in log if stream == "stdout"]
    assert console_lines == crash.last_lines and "Connection to Steam servers successful." in console_lines
    assert [name for name, _, _ in events] == ["server.crashed"]
    assert events[0][2] == restart and f"Restarting it (job #{restart.pk})" in events[0][1]

    run_jobs()
    assert fresh(game).actual_state == ActualState.RUNNING
    assert pid_of(game) != pid
    assert log_of(restart)[: len(log)] == log  # the worker went on after the crash report


@pytest.mark.parametrize(
    "kind, reason, status, said",
    [
        ("segfault", CrashReason.SEGFAULT, -signal.SIGSEGV, "segmentation fault (killed by SIGSEGV"),
        (
            "hosterror",
            CrashReason.HOST_ERROR,
            1,
            "Host_Error: SV_CreatePacketEntities: GetEntServerClass failed",
        ),
        # The worker's home shows as "~", as in job logs.
        (
            "library",
            CrashReason.MISSING_LIBRARY,
            1,
            "~/.steam/sdk32/steamclient.so: cannot open shared object",
        ),
    ],
)
def test_a_simulated_crash_is_classified_from_exit_status_and_console(
    game, owner, supervisor, kind, reason, status, said
):
    start(game, owner)
    console(game, f"sim_crash {kind}")
    wait_until(supervisor.exited.is_set, timeout=15)
    supervisor.run_once()
    crash = ServerCrash.objects.get(server=game)
    assert (crash.reason, crash.exit_status) == (reason, status)
    assert said in crash.detail


def test_the_fourth_crash_in_ten_minutes_pauses_automatic_restarts_until_a_person_starts_it(
    game, owner, supervisor, events, owner_client
):
    start(game, owner)
    now = timezone.now()
    for minutes in (9, 6, 3):  # three crashes already, all restarted
        ServerCrash.objects.create(
            server=game,
            at=now - timedelta(minutes=minutes),
            reason="unknown",
            detail="-",
            action="restarted",
        )
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    crash = ServerCrash.objects.order_by("-at").first()
    assert crash.action == CrashAction.PAUSED
    assert not Job.objects.filter(trigger=JobTrigger.MONITOR).exists()
    assert fresh(game).autorestart_paused_at is not None
    assert [name for name, _, _ in events] == ["server.crashed", "server.autorestart_paused"]
    page = owner_client.get(f"/servers/{game.id}").content.decode()
    assert "Automatic restarts are paused: it crashed more than 3 times within 10 minutes." in page

    owner_client.post(f"/servers/{game.id}/jobs", {"kind": "start"})
    assert fresh(game).autorestart_paused_at is None
    run_jobs()
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    # The crashes before the pause no longer count: this one is restarted.
    assert ServerCrash.objects.order_by("-at").first().action == CrashAction.RESTARTED


def test_crashes_older_than_ten_minutes_do_not_count(game, owner, supervisor):
    start(game, owner)
    for minutes in (40, 30, 20):
        ServerCrash.objects.create(
            server=game,
            at=timezone.now() - timedelta(minutes=minutes),
            reason="unknown",
            detail="-",
            action="restarted",
        )
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    assert ServerCrash.objects.order_by("-at").first().action == CrashAction.RESTARTED


def test_with_auto_restart_off_a_crash_is_recorded_and_nothing_is_queued(game, owner, supervisor, events):
    start(game, owner)
    Server.objects.filter(pk=game.pk).update(auto_restart=False)
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    assert ServerCrash.objects.get(server=game).action == CrashAction.OFF
    assert not Job.objects.filter(trigger=JobTrigger.MONITOR).exists()
    assert fresh(game).actual_state == ActualState.CRASHED
    assert "Automatic restarts are off" in events[0][1]
    supervisor.supervise(full=True)  # the pid file is gone: it stays crashed, and is not recorded twice
    assert (fresh(game).actual_state, ServerCrash.objects.count()) == (ActualState.CRASHED, 1)


def test_a_stop_from_the_panel_is_not_a_crash(game, owner, supervisor):
    start(game, owner)
    supervisor.supervise(full=True)
    Job.enqueue(game, JobKind.STOP, owner)
    run_jobs()
    wait_until(supervisor.exited.is_set, timeout=15)  # the supervisor did hear the process exit...
    supervisor.run_once()
    assert fresh(game).actual_state == ActualState.STOPPED  # ...and knows a stop when it sees one
    assert not ServerCrash.objects.exists()
    assert not Job.objects.filter(trigger=JobTrigger.MONITOR).exists()


def test_a_server_with_a_job_running_is_left_to_the_job(game, owner, supervisor):
    start(game, owner)
    job = Job.enqueue(game, JobKind.RESTART, owner)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)  # as if a worker had claimed it
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    supervisor.supervise(full=True)
    assert not ServerCrash.objects.exists()
    assert fresh(game).actual_state == ActualState.RUNNING  # untouched: the job will refresh it


def test_a_death_after_a_stop_was_asked_for_is_not_a_crash(game, owner, supervisor):
    start(game, owner)
    Job.enqueue(game, JobKind.STOP, owner)  # queued, not run: desired is stopped
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    assert not ServerCrash.objects.exists()
    assert fresh(game).actual_state == ActualState.STOPPED


def test_a_hung_server_becomes_unresponsive_and_comes_back(game, owner, supervisor, settings):
    settings.UNRESPONSIVE_SECONDS = 1
    start(game, owner)
    supervisor.supervise(full=True)
    console(game, "sim_hang")
    wait_until(
        lambda: supervisor.supervise(full=True) or fresh(game).actual_state == "unresponsive",
        timeout=20,
    )
    assert not ServerCrash.objects.exists()


# --- samples ---------------------------------------------------------------------------------


def test_samples_record_players_cpu_and_memory_of_running_servers(game, owner, supervisor, settings):
    settings.SAMPLE_SECONDS = 0
    start(game, owner)
    supervisor.supervise(full=True)
    supervisor.supervise(full=True)
    samples = list(ServerSample.objects.filter(server=game).order_by("at"))
    assert len(samples) == 2
    rss = psutil.Process(pid_of(game)).memory_info().rss
    assert all(s.players == 3 and s.cpu is not None and s.cpu >= 0 for s in samples)
    assert samples[-1].memory >= rss * 0.5


def test_old_samples_are_pruned_in_batches(server, monkeypatch):
    monkeypatch.setattr("servers.samples.PRUNE_BATCH", 7)
    now = timezone.now()
    ServerSample.objects.bulk_create(
        [ServerSample(server=server, at=now - timedelta(days=8, minutes=i), memory=1) for i in range(20)]
        + [ServerSample(server=server, at=now - timedelta(days=6), memory=1)]
    )
    assert prune_samples(now, batches=2) == 14  # two batches of 7
    assert prune_samples(now) == 6
    assert list(ServerSample.objects.values_list("at", flat=True)) == [now - timedelta(days=6)]


# --- real worker processes ---------------------------------------------------------------------


@pytest.fixture
def worker(tmp_path, host):
    """Start real `runworker` processes (monitor pass every second); none may log a failed pass."""
    logs = []

    def start(name, **env):
        env.setdefault("L4D2_MONITOR_SECONDS", "1")
        logs.append(tmp_path / f"{name}.log")
        return start_worker("--poll", "0.1", log_path=logs[-1], HOSTCTL_ROOT=host, **env)

    yield start
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def wait_state(server, state, timeout=30):
    wait_until(lambda: fresh(server).actual_state == state, timeout=timeout)


@pytest.mark.slow
def test_a_real_worker_notices_a_kill_9_restarts_the_server_and_it_runs_again(game, owner, worker):
    with running(worker("w")):
        Job.enqueue(game, JobKind.INSTALL, owner)
        Job.enqueue(game, JobKind.START, owner)
        wait_state(game, ActualState.RUNNING)
        wait_until(lambda: fresh(game).player_count == 3)  # its supervisor has looked at it
        pid = pid_of(game)
        os.kill(pid, signal.SIGKILL)
        crash = wait_until(lambda: ServerCrash.objects.filter(server=game).first())
        assert (crash.exit_status, crash.reason) == (-9, CrashReason.UNKNOWN)  # the worker was its parent
        restart = wait_until(lambda: Job.objects.filter(trigger=JobTrigger.MONITOR).first())
        assert log_of(restart)[1][1].startswith("Crash reason: Unknown.")
        wait_until(lambda: Job.objects.get(pk=restart.pk).is_finished)
        restart.refresh_from_db()
        assert restart.state == JobState.SUCCEEDED
        assert fresh(game).actual_state == ActualState.RUNNING and pid_of(game) != pid


@pytest.mark.slow
def test_a_restarted_worker_finds_a_server_that_died_without_it(game, owner, worker):
    with running(worker("first")) as first:
        Job.enqueue(game, JobKind.INSTALL, owner)
        Job.enqueue(game, JobKind.START, owner)
        wait_state(game, ActualState.RUNNING)
        first.send_signal(signal.SIGTERM)
        first.wait(30)
    pid = pid_of(game)
    assert psutil.Process(pid).is_running()  # the server outlived the worker that started it
    before = SupervisorBeat.objects.get().checked_at
    with running(worker("second")):
        wait_until(lambda: SupervisorBeat.objects.get().checked_at > before)  # the new one has looked
        os.kill(pid, signal.SIGKILL)
        crash = wait_until(lambda: ServerCrash.objects.filter(server=game).first())
        assert crash.exit_status is None  # nobody here was its parent: only the console can tell
        assert "exit status unknown" in crash.detail
        wait_until(lambda: fresh(game).actual_state == ActualState.RUNNING and pid_of(game) != pid)


@pytest.mark.slow
def test_four_crashes_in_a_row_stop_the_automatic_restarts(game, owner, owner_client, worker):
    def up_and_idle():
        idle = not Job.objects.exclude(state__in=("succeeded", "failed", "cancelled")).exists()
        return idle and fresh(game).actual_state == ActualState.RUNNING

    with running(worker("w")):
        Job.enqueue(game, JobKind.INSTALL, owner)
        first = Job.enqueue(game, JobKind.START, owner)
        for n in range(1, 5):
            # Each segfault comes once the server is up again and its restart job is done.
            wait_until(up_and_idle, timeout=60)
            console(game, "sim_crash segfault")
            wait_until(lambda n=n: ServerCrash.objects.filter(server=game).count() == n)
        crashes = list(ServerCrash.objects.filter(server=game).order_by("at"))
        assert [c.reason for c in crashes] == [CrashReason.SEGFAULT] * 4
        assert [c.action for c in crashes] == [CrashAction.RESTARTED] * 3 + [CrashAction.PAUSED]
        restarts = list(Job.objects.filter(trigger=JobTrigger.MONITOR).order_by("id"))
        assert len(restarts) == 3
        # A chain: each restart's parent is the job that started the server that crashed.
        assert [r.parent_id for r in restarts] == [first.pk, restarts[0].pk, restarts[1].pk]
        server = fresh(game)
        assert (server.actual_state, server.autorestart_paused_at is not None) == (ActualState.CRASHED, True)
    page = owner_client.get(f"/servers/{game.id}").content.decode()
    assert "Automatic restarts are paused" in page and "Start or Restart it to run it again" in page


@pytest.mark.slow
def test_stops_and_restarts_from_the_panel_are_never_crashes(game, owner, worker):
    with running(worker("w")):
        Job.enqueue(game, JobKind.INSTALL, owner)
        for kind in (JobKind.START, JobKind.STOP, JobKind.START, JobKind.RESTART, JobKind.RESTART):
            job = Job.enqueue(game, kind, owner)
            wait_until(lambda job=job: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED)
        wait_until(lambda: fresh(game).player_count == 3)  # the supervisor has been round since
    assert not ServerCrash.objects.exists()
    assert not Job.objects.filter(trigger=JobTrigger.MONITOR).exists()


@pytest.mark.slow
def test_a_hung_server_becomes_unresponsive_under_a_real_worker(game, owner, worker):
    with running(worker("w", L4D2_UNRESPONSIVE_SECONDS="2")):
        Job.enqueue(game, JobKind.INSTALL, owner)
        Job.enqueue(game, JobKind.START, owner)
        wait_state(game, ActualState.RUNNING)
        console(game, "sim_hang")
        wait_state(game, ActualState.UNRESPONSIVE)
    assert not ServerCrash.objects.exists()


def test_the_supervisor_is_one_of_the_workers_loops(settings):
    assert "servers.supervisor.Supervisor" in settings.WORKER_LOOPS


# --- the live map across restarts (servers/applied.py) -------------------------------------


def test_a_changelevel_survives_an_automatic_restart(game, owner, supervisor):
    start(game, owner)
    console(game, "changelevel c2m1_highway")
    wait_until(lambda: supervisor.supervise(full=True) or fresh(game).map_seen == "c2m1_highway", timeout=15)
    kill_and_hear(supervisor, game)
    supervisor.run_once()
    assert fresh(game).map_seen == ""  # down: A2S says nothing, the map it was on is kept apart
    restart = Job.objects.get(trigger=JobTrigger.MONITOR)
    run_jobs()
    assert Job.objects.get(pk=restart.pk).state == JobState.SUCCEEDED, log_of(restart)
    assert any(line.startswith("$ ") and "+map c2m1_highway" in line for _, line in log_of(restart))
    supervisor.supervise(full=True)
    assert (fresh(game).actual_state, fresh(game).map_seen) == (ActualState.RUNNING, "c2m1_highway")
    assert fresh(game).map == "c1m1_hotel"  # the setting is untouched: "keep this map" is the owner's


def test_a_map_set_after_the_changelevel_wins_at_the_restart(game, owner, supervisor, client):
    start(game, owner)
    console(game, "changelevel c2m1_highway")
    wait_until(lambda: supervisor.supervise(full=True) or fresh(game).map_seen == "c2m1_highway", timeout=15)
    client.force_login(owner)
    form = {"name": game.name, "map": "c5m1_waterfront", "max_players": "8", "mp_gamemode": "coop"}
    form.update(z_difficulty="Normal", sv_region="-1", motd_enabled="on")
    assert client.post(f"/servers/{game.id}/settings", form).status_code == 302
    Job.enqueue(game, JobKind.RESTART, owner)
    run_jobs()
    supervisor.supervise(full=True)
    assert fresh(game).map_seen == "c5m1_waterfront"
