"""The worker: claims, runs, records, finishes; in-process and as a real process."""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import psutil
import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, WorkerProcess
from jobs.recovery import Recovery, process_identity
from jobs.runner import job_sink
from jobs.worker import Worker
from servers import l4d2_facade
from servers.models import ActualState, DesiredState

from .processes import ROOT, running, start_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def host(sim_host):
    return sim_host


def lines(job):
    return list(JobLog.objects.filter(job=job).order_by("seq").values_list("seq", "stream", "line"))


def run_once(**options):
    call_command("runworker", once=True, poll=0.05, **options)


def claim(node=None):
    return Job.objects.claim(node_name=node, worker="test-host:1:1.00")


def cancel(job, user):
    return Job.objects.get(pk=job.pk).request_cancel(user)


def assert_contiguous(job):
    seqs = [seq for seq, _, _ in lines(job)]
    assert seqs == list(range(1, len(seqs) + 1))


# --- the command ---------------------------------------------------------------


def test_runworker_help_is_ours_not_channels():
    out = subprocess.run(
        [sys.executable, "manage.py", "runworker", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--once" in out and "--concurrency" in out and "--poll" in out
    assert "(default: 2)" in out


def test_jobs_app_comes_before_channels(settings):
    apps = settings.INSTALLED_APPS
    assert apps.index("jobs") < apps.index("channels")


@pytest.mark.parametrize("bad", [["--concurrency", "0"], ["--poll", "-1"], ["--poll", "abc"]])
def test_runworker_rejects_bad_arguments(bad):
    result = subprocess.run(
        [sys.executable, "manage.py", "runworker", *bad], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "error:" in result.stderr


# --- running jobs in-process ------------------------------------------------------


def test_install_succeeds_with_contiguous_seq_and_opening_and_closing_lines(server, owner):
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    run_once()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.exit_code == 0
    assert job.started_at <= job.finished_at
    log = lines(job)
    assert_contiguous(job)
    assert log[0][1:] == ("system", f"Running install of {server.name}.")
    assert any(
        stream == "system" and line.startswith("$ ") and "steamcmd" in line for _, stream, line in log[1:4]
    )
    assert any("Success! App '222860' fully installed." in line for _, _, line in log)
    assert any(stream == "system" and "exit code 0" in line for _, stream, line in log[-3:])
    assert [line for _, stream, line in log if stream == "phase"] == [
        "Download (Windows platform)",
        "Download (Linux platform)",
    ]
    assert job.progress == 100
    server.refresh_from_db()
    assert server.actual_state == ActualState.STOPPED and server.actual_state_checked_at


def test_failed_steamcmd_fails_the_job_with_the_reason(server, owner, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_FAIL", "disk")
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    run_once()
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.exit_code != 0
    assert any("disk" in line.lower() for _, stream, line in lines(job) if stream == "system")


def test_an_exception_fails_the_job_and_the_worker_goes_on(server, owner, monkeypatch):
    real_run = l4d2_facade.run

    def explode(kind, *args, **kwargs):
        if kind == "update":
            raise RuntimeError("boom from the facade")
        return real_run(kind, *args, **kwargs)

    monkeypatch.setattr(l4d2_facade, "run", explode)
    broken = Job.enqueue(server, JobKind.UPDATE, owner)
    after = Job.enqueue(server, JobKind.STOP, owner)
    run_once()
    broken.refresh_from_db()
    after.refresh_from_db()
    assert broken.state == JobState.FAILED and broken.exit_code == 1
    assert any("Internal error (RuntimeError)" in line for _, _, line in lines(broken))
    assert not any("boom from the facade" in line for _, _, line in lines(broken))  # details: staff only
    assert after.state == JobState.SUCCEEDED


def test_a_servers_jobs_run_one_at_a_time_in_fifo_order(server, owner):
    jobs = [Job.enqueue(server, kind, owner) for kind in (JobKind.INSTALL, JobKind.UPDATE, JobKind.STOP)]
    run_once(concurrency=3)
    done = Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("started_at")
    assert [j.pk for j in done] == [j.pk for j in jobs]
    for earlier, later in zip(done, done[1:], strict=False):
        assert earlier.finished_at <= later.started_at


def test_different_servers_run_in_parallel(make_server, owner, settings):
    settings.HOSTCTL_SIM_SECONDS = 1
    jobs = [Job.enqueue(make_server(), JobKind.INSTALL, owner) for _ in range(2)]
    run_once(concurrency=2)
    a, b = Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("id")
    assert a.state == b.state == JobState.SUCCEEDED
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # the runs overlap


def test_start_and_stop_refresh_actual_state_and_keep_desired_state(udp_server, owner):
    for kind in (JobKind.INSTALL, JobKind.START):
        Job.enqueue(udp_server, kind, owner)
    run_once()
    udp_server.refresh_from_db()
    assert (udp_server.actual_state, udp_server.desired_state) == (ActualState.RUNNING, DesiredState.RUNNING)
    Job.enqueue(udp_server, JobKind.STOP, owner)
    run_once()
    udp_server.refresh_from_db()
    assert (udp_server.actual_state, udp_server.desired_state) == (ActualState.STOPPED, DesiredState.STOPPED)


def test_a_failed_start_never_reverts_desired_state(server, owner):
    job = Job.enqueue(server, JobKind.START, owner)  # not installed: start must fail
    run_once()
    job.refresh_from_db()
    server.refresh_from_db()
    assert job.state == JobState.FAILED
    assert server.desired_state == DesiredState.RUNNING
    assert server.actual_state == ActualState.NOT_INSTALLED


def test_log_lines_arriving_during_a_write_are_committed_together_not_one_by_one(job):
    sink = job_sink(job.id)
    for i in range(5000):
        sink("stdout", f"line {i}")
    sink.flush()
    assert_contiguous(job)
    assert JobLog.objects.filter(job=job).count() == 5000
    # Each commit stamps its rows with one time: far fewer commits than lines.
    commits = JobLog.objects.filter(job=job).values("created_at").distinct().count()
    assert commits < 100


def test_log_sink_keeps_hostile_text_as_text(job):
    sink = job_sink(job.id)
    sink("stdout", "nul\x00byte")
    sink("stderr", "<script>alert(1)</script>")
    sink.flush()
    assert [line for _, _, line in lines(job)] == ["nul\ufffdbyte", "<script>alert(1)</script>"]


def test_a_lone_line_is_written_without_anyone_flushing_or_ticking(job):
    sink = job_sink(job.id)
    sink("stdout", "only line")
    wait_until(lambda: JobLog.objects.filter(job=job).exists(), timeout=10)
    assert lines(job) == [(1, "stdout", "only line")]


# --- cancellation ----------------------------------------------------------------


def test_a_second_owners_job_does_not_wait_behind_all_of_the_first_owners_jobs(
    make_server, owner, other_owner
):
    # The measured case: one owner queued 8 installs, then another owner queued one.
    first = [Job.enqueue(make_server(), JobKind.INSTALL, owner) for _ in range(8)]
    second = Job.enqueue(make_server(owner=other_owner), JobKind.INSTALL, other_owner)
    order, last_owner = [], 0
    for _ in range(3):  # one worker, one job at a time
        job = Job.objects.claim(node_name=None, worker="w:1:1.00", after_owner=last_owner)
        order.append(job.pk)
        last_owner = job.server.owner_id
        Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    assert order == [first[0].pk, second.pk, first[1].pk]


def test_an_owner_with_nothing_running_goes_before_one_who_has_a_job_running(make_server, owner, other_owner):
    busy_owner_jobs = [Job.enqueue(make_server(), JobKind.INSTALL, owner) for _ in range(3)]
    waiting = Job.enqueue(make_server(owner=other_owner), JobKind.INSTALL, other_owner)
    assert claim().pk == busy_owner_jobs[0].pk  # oldest first
    assert claim().pk == waiting.pk  # the first owner already has one running


def test_cancel_before_claim_wins_and_the_worker_never_runs_it(job, owner):
    assert cancel(job, owner) == "cancelled"
    assert claim() is None
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.started_at is None


def test_claim_before_cancel_wins_and_the_cancel_becomes_cancelling(job, owner):
    claimed = claim()
    assert claimed.pk == job.pk
    assert cancel(job, owner) == "cancelling"
    job.refresh_from_db()
    assert job.state == JobState.CANCELLING and job.cancel_requested_by == owner


def test_cancelling_a_running_install_kills_it_and_ends_cancelled(server, owner, settings, host):
    settings.HOSTCTL_SIM_SECONDS = 30
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    worker = Worker(poll=0.05, once=True)

    import threading

    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_until(lambda: JobLog.objects.filter(job=job, line__contains="progress").exists())
        requested = time.monotonic()
        assert cancel(job, owner) == "cancelling"
        wait_until(lambda: Job.objects.get(pk=job.pk).state == JobState.CANCELLED, timeout=10)
        took = time.monotonic() - requested
    finally:
        thread.join(30)
    job.refresh_from_db()
    assert job.exit_code not in (0, None)
    assert took < settings.HOSTCTL_STOP_GRACE + 2
    system = [line for _, stream, line in lines(job) if stream == "system"]
    assert any("Cancel requested by owner" in line for line in system)
    assert any("SIGTERM" in line for line in system)
    assert_contiguous(job)
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(host) in " ".join(p.info["cmdline"] or ())]
    server.refresh_from_db()
    assert server.desired_state == DesiredState.STOPPED and server.actual_state_checked_at


def test_a_job_that_ends_before_the_cancel_lands_keeps_its_outcome(job, owner, host):
    claimed = claim()
    cancel(claimed, owner)  # too late to matter: the command is already done
    sink = job_sink(claimed.id)

    def say(text):
        sink("system", text)
        sink.flush()

    assert claimed.finish(0, cancelled=False, say=say) == JobState.SUCCEEDED
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.exit_code == 0
    assert "already ended" in lines(job)[-1][2]


# --- restart safety -----------------------------------------------------------------


def dead_identity():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(proc.pid)
    proc.wait()
    return identity


@pytest.mark.parametrize("cancel_requested, expected", [(False, JobState.FAILED), (True, JobState.CANCELLED)])
def test_a_new_worker_finishes_jobs_its_dead_predecessor_left(job, cancel_requested, expected):
    state = JobState.CANCELLING if cancel_requested else JobState.RUNNING
    Job.objects.filter(pk=job.pk).update(
        state=state,
        started_at=timezone.now(),
        claimed_by=dead_identity(),
        cancel_requested_at=timezone.now() if cancel_requested else None,
    )
    JobLog.objects.create(job=job, seq=1, stream="stdout", line="half way")
    Recovery(process_identity()).recover_orphans()
    job.refresh_from_db()
    assert job.state == expected and job.finished_at
    assert lines(job)[-1][0] == 2 and "stopped before it finished" in lines(job)[-1][2]


def make_stuck(job, worker_identity, *, seconds_ago, cancel_requested=False):
    then = timezone.now() - timedelta(seconds=seconds_ago)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.CANCELLING if cancel_requested else JobState.RUNNING,
        started_at=then,
        updated_at=then,
        claimed_by=worker_identity,
        cancel_requested_at=then if cancel_requested else None,
    )


@pytest.mark.parametrize("cancel_requested, expected", [(False, JobState.FAILED), (True, JobState.CANCELLED)])
def test_a_job_whose_worker_came_back_under_another_host_name_is_recovered_by_its_silence(
    job, settings, cancel_requested, expected
):
    # A container recreated under a new host name: the old identity can never be
    # checked by pid, and no worker with that name will ever start again.
    settings.NODE_JOB_TIMEOUT_SECONDS = 60
    gone = "old-container-name:4242:1700000000.00"
    WorkerProcess.objects.create(
        identity=gone, host="old-container-name", last_heartbeat=timezone.now() - timedelta(seconds=300)
    )
    make_stuck(job, gone, seconds_ago=300, cancel_requested=cancel_requested)
    Recovery(process_identity()).recover_silent()
    job.refresh_from_db()
    assert job.state == expected and job.finished_at
    assert "stopped heartbeating" in lines(job)[-1][2]


def test_a_worker_that_heartbeats_keeps_its_jobs_however_long_they_run(job, settings):
    settings.NODE_JOB_TIMEOUT_SECONDS = 60
    far = "another-host:99:1.00"
    WorkerProcess.objects.create(identity=far, host="another-host")  # heartbeat: now
    make_stuck(job, far, seconds_ago=3600)
    Recovery(process_identity()).recover_silent()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


def test_a_job_of_a_worker_that_never_heartbeated_is_recovered_after_the_timeout(job, settings):
    settings.NODE_JOB_TIMEOUT_SECONDS = 60
    make_stuck(job, "vanished:1:1.00", seconds_ago=30)
    Recovery(process_identity()).recover_silent()
    assert Job.objects.get(pk=job.pk).state == JobState.RUNNING  # not yet: it may just be starting
    make_stuck(job, "vanished:1:1.00", seconds_ago=300)
    Recovery(process_identity()).recover_silent()
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED


def test_a_live_workers_jobs_are_left_alone(job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, claimed_by=process_identity(os.getppid()))
    Recovery(process_identity()).recover_orphans()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING


# --- real processes and real signals ----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "signals, sim_seconds, expected",
    [(1, 1, JobState.SUCCEEDED), (2, 60, JobState.FAILED)],
    ids=["one SIGTERM drains: the job finishes", "a second SIGTERM cancels the running job"],
)
def test_sigterm_mid_job_drains_and_a_second_one_cancels_and_the_worker_exits_cleanly(
    server, owner, host, tmp_path, signals, sim_seconds, expected
):
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    worker = start_worker(
        "--poll", "0.1", log_path=tmp_path / "w.log", HOSTCTL_ROOT=host, HOSTCTL_SIM_SECONDS=sim_seconds
    )
    with running(worker):
        wait_until(lambda: JobLog.objects.filter(job=job, line__contains="progress").exists())
        for _ in range(signals):
            worker.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        assert worker.wait(30) == 0
    job.refresh_from_db()
    assert job.state == expected
    if expected == JobState.FAILED:
        assert job.exit_code != 0
    assert not Job.objects.active().exists()
    assert_contiguous(job)


@pytest.mark.slow
def test_kill_9_mid_job_then_a_new_worker_finishes_it_and_the_queue_goes_on(server, owner, host, tmp_path):
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    nxt = Job.enqueue(server, JobKind.STOP, owner)
    worker = start_worker(
        "--poll", "0.1", log_path=tmp_path / "w1.log", HOSTCTL_ROOT=host, HOSTCTL_SIM_SECONDS=60
    )
    with running(worker):
        wait_until(lambda: JobLog.objects.filter(job=job, line__contains="progress").exists())
        worker.kill()
        worker.wait()
    # The dead worker's steamcmd sim runs on in its own session; the host fixture reaps it.
    second = start_worker("--once", "--poll", "0.1", log_path=tmp_path / "w2.log", HOSTCTL_ROOT=host)
    with running(second):
        assert second.wait(60) == 0
    job.refresh_from_db()
    nxt.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "stopped before it finished" in lines(job)[-1][2]
    # Its steamcmd died of SIGPIPE or was killed by the new worker: either way, none is left.
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if "steamcmd" in " ".join(p.info["cmdline"] or ()) and str(host) in " ".join(p.info["cmdline"] or ())
    ]
    assert_contiguous(job)
    assert nxt.state == JobState.SUCCEEDED


def test_a_database_error_in_the_loop_is_logged_and_retried_not_fatal(server, owner, monkeypatch, caplog):
    from django.db import OperationalError

    real = Worker._check_requests
    failures = iter([True])

    def flaky(self):
        if next(failures, False):
            raise OperationalError("server closed the connection unexpectedly")
        return real(self)

    monkeypatch.setattr(Worker, "_check_requests", flaky)
    job = Job.enqueue(server, JobKind.STOP, owner)
    run_once()
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert "database error in the worker loop, retrying" in caplog.text


def test_a_job_queued_with_lines_already_in_its_log_keeps_them_first(server, owner):
    job = Job.enqueue(server, JobKind.STOP, owner)
    job.append_log("system", "Opened by whoever queued it.")
    run_once()
    log = lines(job)
    assert log[0] == (1, "system", "Opened by whoever queued it.")
    assert_contiguous(job)


@pytest.mark.slow
def test_cancelling_a_job_whose_command_daemonized_leaves_no_process_behind(server, owner, host, tmp_path):
    pid_file = tmp_path / "pids"
    pid_file.touch()
    worker = start_worker(
        "--poll",
        "0.1",
        log_path=tmp_path / "w.log",
        HOSTCTL_ROOT=host,
        HOSTCTL_SIMULATE="0",
        HOSTCTL_PLATFORM_WORKAROUND="0",
        HOSTCTL_STEAMCMD=ROOT / "tests" / "commands" / "daemonizing_steamcmd.py",
        HOSTCTL_STOP_GRACE="1",
        DAEMON_PID_FILE=pid_file,
    )
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    pids = []
    try:
        with running(worker):
            pids = wait_until(lambda: recorded_pids(pid_file, 2))
            requested = time.monotonic()
            assert cancel(job, owner) == "cancelling"
            wait_until(lambda: Job.objects.get(pk=job.pk).state == JobState.CANCELLED, timeout=15)
            wait_until(
                lambda: not [pid for pid in pids if psutil.pid_exists(pid) and not zombie(pid)], timeout=5
            )
            took = time.monotonic() - requested
        assert took <= 1 + 1  # HOSTCTL_STOP_GRACE + 1 s
    finally:
        for pid in pids:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)


def recorded_pids(pid_file, count):
    pids = [int(p) for p in pid_file.read_text().split()]
    return pids if len(pids) >= count else None


def zombie(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_job_logs_show_owners_no_host_names_pids_or_paths_outside_their_server(udp_server, owner, host):
    import re

    for kind in (JobKind.INSTALL, JobKind.START, JobKind.RESTART, JobKind.STOP):
        Job.enqueue(udp_server, kind, owner)
        run_once()
    install_dir = str((host / str(udp_server.id)).resolve())
    text = "\n".join(JobLog.objects.values_list("line", flat=True))
    assert "Server is up" in text and "Server stopped" in text
    assert f"{socket.gethostname()}:" not in text
    assert not re.search(r"\bpid \d+|process group \d+", text)
    paths = re.findall(r"(?<![\w.:~])/[\w.+-]+(?:/[\w.+-]*)*", text)  # ~/...: the worker home, shortened
    assert paths, "the install dir itself is shown (it is the owner's)"
    outside = [p for p in paths if not (p == install_dir or p.startswith(install_dir + "/"))]
    assert outside == []


def test_job_marks_name_the_database_so_two_panels_on_one_host_never_kill_each_others_processes(settings):
    from django.db import connection

    from jobs import recovery

    ours = recovery.job_mark(12)
    recovery._panel_id.cache_clear()
    real = dict(connection.settings_dict)
    try:
        connection.settings_dict["NAME"] = "another-panel.sqlite3"
        theirs = recovery.job_mark(12)
    finally:
        connection.settings_dict.clear()
        connection.settings_dict.update(real)
        recovery._panel_id.cache_clear()
    assert ours.endswith("-job-12") and theirs.endswith("-job-12") and ours != theirs
    assert recovery.job_mark(12) == ours


def test_update_with_nothing_new_touches_no_process_and_finishes_with_a_clear_line(
    udp_server, owner, tmp_path, monkeypatch
):
    from tests import simservers

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # steamcmd's app-info cache stays in the test
    simservers.start(udp_server)
    pid = l4d2_facade.refresh_actual_state(udp_server).pid
    job = Job.enqueue(udp_server, JobKind.UPDATE, owner)
    started = time.monotonic()
    run_once()
    job.refresh_from_db()
    text = [line for _, _, line in lines(job)]
    assert job.state == JobState.SUCCEEDED
    assert time.monotonic() - started < 10
    assert any(line.startswith("Already up to date: build ") for line in text), text
    assert any("run Install: it checks (validates) every file" in line for line in text)
    assert l4d2_facade.refresh_actual_state(udp_server).pid == pid, "the game server was not restarted"
    simservers.stop(udp_server)
