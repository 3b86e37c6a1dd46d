"""The job page's header in words people read: exit codes, failure reason, progress, times; error pages."""

import re
from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState
from jobs.outcome import closing_line, describe_exit_code, pick_reason
from jobs.runner import state_words

pytestmark = pytest.mark.django_db


def finish(job, state, **fields):
    now = timezone.now()
    fields.setdefault("started_at", now)
    Job.objects.filter(pk=job.pk).update(state=state, finished_at=now, **fields)
    job.refresh_from_db()


def add_rows(job, *rows):
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream=stream, line=line) for i, (stream, line) in enumerate(rows, 1)]
    )


def status_panel(client, job):
    """The status panel as the page re-renders it (htmx), which the full page includes too."""
    return client.get(
        f"/jobs/{job.id}", headers={"HX-Request": "true", "HX-Target": "job-status"}
    ).content.decode()


# --- exit codes ---------------------------------------------------------------------


def test_exit_codes_read_as_people_say_them():
    assert describe_exit_code(0) == "0"
    assert describe_exit_code(1) == "1"
    assert describe_exit_code(-15) == "SIGTERM (-15)"
    assert describe_exit_code(-9) == "SIGKILL (-9)"
    assert describe_exit_code(-200) == "-200"
    assert describe_exit_code(None) == "—"
    assert closing_line(-15, 3.21) == "Finished with exit code SIGTERM (-15) after 3.2 s."


def test_a_job_cancelled_before_it_ran_says_so_instead_of_exit_code_1(owner_client, owner, job):
    job.request_cancel(owner)
    job.refresh_from_db()
    assert job.exit_code == 1  # the stored contract value stays
    exit_cell = re.search(
        r'id="job-exit-code">([^<]*)<', owner_client.get(f"/jobs/{job.id}").content.decode()
    )
    assert exit_cell.group(1) == "cancelled before it ran"


def test_a_job_killed_by_a_signal_shows_the_signal(owner_client, job):
    finish(job, JobState.CANCELLED, exit_code=-15)
    assert 'id="job-exit-code">SIGTERM (-15)<' in owner_client.get(f"/jobs/{job.id}").content.decode()


def test_the_servers_new_state_is_written_in_words():
    assert state_words("not_installed") == "not installed"
    assert state_words("running") == "running"
    assert state_words("something-new") == "something-new"


# --- the failure reason ----------------------------------------------------------------

STEAMCMD_DISK_FULL = [
    ("system", "Worker h:1:2 runs install of S (server #1)."),
    ("phase", "Download (Windows platform)"),
    ("stderr", "a warning long before the failure"),
    *[("stdout", f"progress {i}") for i in range(30)],
    ("stdout", "Error! App '222860' state is 0x202 after update job."),
    ("system", "steamcmd reported state 0x202: not enough disk space"),
    ("system", "Installing failed (exit code 1)"),
    ("system", "Finished with exit code 1 after 3.0 s."),
    ("system", "Server is now not installed."),
]


def seqs(rows):
    return [seq for seq, _, _ in rows]


def numbered(rows):
    return [(seq, stream, line) for seq, (stream, line) in enumerate(rows, 1)]


def test_the_reason_is_hostctls_verdict_before_the_closing_line_not_an_old_warning():
    reason = pick_reason(numbered(STEAMCMD_DISK_FULL))
    assert [line for _, _, line in reason] == [
        "steamcmd reported state 0x202: not enough disk space",
        "Installing failed (exit code 1)",
    ]


def test_the_reason_is_the_last_stderr_lines_and_the_verdict_after_them():
    rows = [
        ("phase", "Start"),
        ("stdout", "Console initialized."),
        ("stderr", "line 1 of the error"),
        ("stderr", "line 2 of the error"),
        ("stderr", "line 3 of the error"),
        ("stderr", "line 4 of the error"),
        ("stdout", "unrelated"),
        ("system", "srcds_run exited with code 1 while starting"),
        ("system", "Finished with exit code 1 after 2.0 s."),
        ("system", "Server is now stopped."),
    ]
    assert seqs(pick_reason(numbered(rows))) == [4, 5, 6, 8]


def test_an_error_the_worker_wrote_itself_is_the_reason():
    rows = [
        ("system", "$ srcds_run"),
        ("stderr", "Server files are missing: install it first."),
        *STEAMCMD_DISK_FULL[-2:],
    ]
    assert seqs(pick_reason(numbered(rows))) == [2]


def test_a_job_whose_worker_died_has_the_recovery_note_as_reason():
    rows = [
        ("phase", "Download"),
        ("stdout", "downloading"),
        ("system", "Worker h:1:2 is gone: marked failed."),
    ]
    assert seqs(pick_reason(numbered(rows))) == [3]


def test_a_failed_job_shows_its_reason_at_the_top_linked_to_the_lines(owner_client, job):
    add_rows(job, *STEAMCMD_DISK_FULL)
    finish(job, JobState.FAILED, exit_code=1)
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    failure = content[content.index('id="job-failure"') : content.index('id="log-view"')]
    verdict = len(STEAMCMD_DISK_FULL) - 3
    assert f'href="#L{verdict}"' in failure and f'href="#L{verdict + 1}"' in failure
    assert "not enough disk space" in failure and "a warning long before" not in failure
    assert "Why it failed" in status_panel(owner_client, job)


def test_a_succeeded_or_cancelled_job_shows_no_failure_reason(owner_client, job):
    add_rows(job, ("stderr", "scary but harmless"), ("system", "Finished with exit code 0 after 1.0 s."))
    for state in (JobState.SUCCEEDED, JobState.CANCELLED):
        finish(job, state, exit_code=0)
        assert 'id="job-failure"' not in owner_client.get(f"/jobs/{job.id}").content.decode()


# --- progress, worker, times, the queued flash ---------------------------------------------


@pytest.mark.parametrize(
    ("state", "label", "width"),
    [
        (JobState.RUNNING, "55%", 55),
        (JobState.FAILED, "Failed at 55%", 55),
        (JobState.CANCELLED, "Cancelled at 55%", 55),
        (JobState.SUCCEEDED, "Succeeded", 100),
    ],
)
def test_the_progress_bar_says_how_the_job_ended(owner_client, job, state, label, width):
    Job.objects.filter(pk=job.pk).update(state=state, progress=55)
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    bar = re.search(r'<div class="progress ([^"]+)" id="log-progress"[^>]*>(.*?)</span>', content, re.S)
    assert bar.group(1) == f"is-{state}"
    assert f"width: {width}%" in bar.group(2) and bar.group(2).endswith(f'id="log-progress-label">{label}')


def test_a_job_without_progress_shows_no_bar(owner_client, job):
    assert re.search(r'id="log-progress"[^>]* hidden', owner_client.get(f"/jobs/{job.id}").content.decode())


def test_staff_see_the_worker_that_ran_the_job_and_owners_do_not(owner_client, staff_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, claimed_by="gamehost:4242:1700000000.00")
    assert "gamehost:4242:1700000000.00" in staff_client.get(f"/jobs/{job.id}").content.decode()
    assert "gamehost:4242" not in owner_client.get(f"/jobs/{job.id}").content.decode()


def test_times_are_time_elements_with_the_exact_utc_time_for_the_script_to_localise(owner_client, job):
    Job.objects.filter(pk=job.pk).update(created_at=datetime(2026, 11, 27, 9, 5, 7, tzinfo=UTC))
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    exact = '<time datetime="2026-11-27T09:05:07Z" data-rel title="2026-11-27 09:05:07 UTC">'
    assert exact + "2026-11-27 09:05 UTC</time>" in content
    table = owner_client.get(f"/servers/{job.server_id}/jobs").content.decode()
    assert '<time datetime="2026-11-27T09:05:07Z" data-rel' in table


def test_the_queued_message_is_shown_only_while_the_job_is_queued(owner_client, server):
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": JobKind.INSTALL}, follow=True)
    assert "queued as job" in response.content.decode()
    owner_client.post(f"/servers/{server.id}/jobs", {"kind": JobKind.UPDATE})
    started = Job.objects.filter(server=server).latest("id")
    Job.objects.filter(pk=started.pk).update(state=JobState.RUNNING, started_at=timezone.now())
    content = owner_client.get(f"/jobs/{started.id}").content.decode()
    assert "queued as job" not in content


# --- error pages -----------------------------------------------------------------------------


def test_404_is_a_page_with_a_way_back(owner_client):
    response = owner_client.get("/jobs/999999")
    assert response.status_code == 404
    content = response.content.decode()
    assert "Page not found" in content and 'href="/servers/"' in content and "Log out owner" in content
    assert "/static/css/panel.css" in content


def test_403_and_500_pages_render_in_the_panels_look():
    forbidden = render_to_string("403.html", {"title": "Staff only", "message": "For staff."})
    assert "Staff only" in forbidden and "For staff." in forbidden
    broken = render_to_string("500.html")  # as Django renders it: no request, no user
    assert "Something went wrong" in broken and 'href="/servers/"' in broken


# --- an install that did not finish ---------------------------------------------------------


@pytest.mark.parametrize("ended", [JobState.CANCELLED, JobState.FAILED])
def test_after_an_unfinished_install_start_is_off_until_an_install_finishes(
    owner_client, owner, server, ended
):
    from servers.models import ActualState, Server

    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.STOPPED, installed_build="9143")
    install = Job.enqueue(server, JobKind.INSTALL, owner)
    Job.objects.filter(pk=install.pk).update(state=ended, exit_code=1)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "The last install did not finish, so its files may be incomplete: run Install again." in page
    refused = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "start"})
    assert refused.status_code == 409 and "run Install again" in refused.content.decode()
    again = Job.enqueue(server, JobKind.INSTALL, owner)
    Job.objects.filter(pk=again.pk).update(state=JobState.SUCCEEDED, exit_code=0)
    assert owner_client.post(f"/servers/{server.id}/jobs", {"kind": "start"}).status_code == 302


def test_an_update_that_ran_after_a_broken_install_turns_start_back_on(owner_client, owner, server):
    from jobs.rules import install_unfinished
    from servers.models import ActualState, Server

    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.STOPPED, installed_build="9143")
    Job.objects.create(server=server, kind=JobKind.UPDATE, state=JobState.SUCCEEDED, requested_by=owner)
    Job.objects.create(server=server, kind=JobKind.INSTALL, state=JobState.FAILED, requested_by=owner)
    assert install_unfinished(server)
    # One still queued has not run: it changes nothing either way.
    Job.objects.create(server=server, kind=JobKind.UPDATE, state=JobState.QUEUED, requested_by=owner)
    assert install_unfinished(server)
    Job.objects.create(server=server, kind=JobKind.UPDATE, state=JobState.FAILED, requested_by=owner)
    assert not install_unfinished(server)
    assert owner_client.post(f"/servers/{server.id}/jobs", {"kind": "start"}).status_code == 302
