"""Cancel: POST /jobs/<id>/cancel, htmx in place, the admin action (DESIGN.md §2, §3)."""

import pytest

from jobs.models import Job, JobKind, JobLog, JobState
from servers.models import DesiredState

pytestmark = pytest.mark.django_db


def test_owner_cancels_a_queued_job(owner_client, owner, server, job):
    server.desired_state = DesiredState.RUNNING
    server.save()
    response = owner_client.post(f"/jobs/{job.id}/cancel", {"next": f"/servers/{server.id}/jobs"})
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}/jobs"
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.exit_code == 1
    assert job.finished_at and job.cancel_requested_by == owner
    log = list(JobLog.objects.filter(job=job).values_list("seq", "stream", "line"))
    assert log == [(1, "stderr", "Cancelled by owner before execution.")]
    server.refresh_from_db()
    assert server.desired_state == DesiredState.RUNNING  # cancel is not rollback
    followed = owner_client.get(response["Location"])
    assert "cancelled before it ran" in followed.content.decode()


def test_cancel_redirects_to_the_job_when_next_is_foreign(owner_client, job):
    response = owner_client.post(f"/jobs/{job.id}/cancel", {"next": "https://evil.example/"})
    assert response["Location"] == f"/jobs/{job.id}"


def test_cancel_of_a_running_job_asks_the_worker(owner_client, owner, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    owner_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    assert job.state == JobState.CANCELLING
    assert job.cancel_requested_by == owner and job.cancel_requested_at
    assert job.finished_at is None


def test_repeated_cancel_of_a_cancelling_job_changes_nothing_and_says_so(owner_client, staff_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    owner_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    before = (job.state, job.cancel_requested_at, job.cancel_requested_by_id, job.updated_at)
    response = staff_client.post(f"/jobs/{job.id}/cancel", follow=True)
    assert "already requested" in response.content.decode()
    job.refresh_from_db()
    assert (job.state, job.cancel_requested_at, job.cancel_requested_by_id, job.updated_at) == before


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_cancel_of_a_finished_job_answers_409_and_changes_nothing(owner_client, job, state):
    Job.objects.filter(pk=job.pk).update(state=state, exit_code=0)
    job.refresh_from_db()
    response = owner_client.post(f"/jobs/{job.id}/cancel")
    assert response.status_code == 409
    assert "already finished" in response.content.decode()
    after = Job.objects.get(pk=job.pk)
    assert (after.state, after.updated_at, after.cancel_requested_at) == (state, job.updated_at, None)
    assert not JobLog.objects.filter(job=job).exists()


def test_staff_can_cancel_any_job(staff_client, staff, job):
    staff_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.cancel_requested_by == staff


def test_outsider_cancel_gets_404_and_changes_nothing(other_client, job):
    assert other_client.post(f"/jobs/{job.id}/cancel").status_code == 404
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_anonymous_cancel_is_redirected_to_login(anon_client, job):
    response = anon_client.post(f"/jobs/{job.id}/cancel")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_cancel_with_get_is_405(owner_client, job):
    assert owner_client.get(f"/jobs/{job.id}/cancel").status_code == 405
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_cancel_requires_csrf_token(owner, job):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/jobs/{job.id}/cancel").status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_htmx_cancel_swaps_the_row_in_place(owner_client, job):
    response = owner_client.post(
        f"/jobs/{job.id}/cancel", headers={"HX-Request": "true", "HX-Target": f"job-row-{job.id}"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="job-row-{job.id}"' in content
    assert "Cancelled" in content and "<html" not in content


def test_htmx_cancel_of_a_finished_job_answers_409_with_the_fresh_panel(owner_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    response = owner_client.post(
        f"/jobs/{job.id}/cancel", headers={"HX-Request": "true", "HX-Target": "job-status"}
    )
    assert response.status_code == 409
    assert 'id="job-status"' in response.content.decode() and "Succeeded" in response.content.decode()


def test_cancel_buttons_show_for_queued_and_running_and_disabled_while_cancelling(
    owner_client, server, owner
):
    queued = Job.enqueue(server, JobKind.INSTALL, owner)
    running = Job.enqueue(server, JobKind.UPDATE, owner)
    cancelling = Job.enqueue(server, JobKind.START, owner)
    done = Job.enqueue(server, JobKind.STOP, owner)
    Job.objects.filter(pk=running.pk).update(state=JobState.RUNNING)
    Job.objects.filter(pk=cancelling.pk).update(state=JobState.CANCELLING)
    Job.objects.filter(pk=done.pk).update(state=JobState.SUCCEEDED)
    content = owner_client.get(f"/servers/{server.id}/jobs").content.decode()
    assert f'action="/jobs/{queued.id}/cancel"' in content
    assert f'action="/jobs/{running.id}/cancel"' in content
    assert f'action="/jobs/{cancelling.id}/cancel"' not in content and "Cancelling…" in content
    assert f'action="/jobs/{done.id}/cancel"' not in content
    page = owner_client.get(f"/jobs/{running.id}").content.decode()
    assert f'action="/jobs/{running.id}/cancel"' in page


def test_admin_jobs_offers_cancel_buttons(staff_client, job):
    assert f'action="/jobs/{job.id}/cancel"' in staff_client.get("/admin/jobs").content.decode()


def test_admin_action_cancels_selected_jobs_with_the_same_rules(staff_client, server, owner):
    queued = Job.enqueue(server, JobKind.INSTALL, owner)
    finished = Job.enqueue(server, JobKind.UPDATE, owner)
    Job.objects.filter(pk=finished.pk).update(state=JobState.SUCCEEDED)
    response = staff_client.post(
        "/admin/jobs/job/",
        {"action": "cancel_selected", "_selected_action": [queued.pk, finished.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "1 job(s): The job was cancelled before it ran." in content
    assert "1 job(s): The job has already finished; nothing changed." in content
    assert Job.objects.get(pk=queued.pk).state == JobState.CANCELLED
    assert Job.objects.get(pk=finished.pk).state == JobState.SUCCEEDED


def test_job_page_warns_that_a_cancelled_run_may_leave_partial_state(owner_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED, started_at=job.created_at)
    assert "does not roll back" in owner_client.get(f"/jobs/{job.id}").content.decode()


def test_staff_finish_a_job_stuck_on_a_vanished_worker_from_the_admin_but_not_a_live_ones(
    staff_client, server, make_server, owner
):
    from jobs.models import WorkerProcess

    stuck = Job.enqueue(server, JobKind.INSTALL, owner)
    live = Job.enqueue(make_server(), JobKind.INSTALL, owner)
    WorkerProcess.objects.create(identity="alive:1:1.00", host="alive")
    Job.objects.filter(pk=stuck.pk).update(state=JobState.RUNNING, claimed_by="gone:2:2.00")
    Job.objects.filter(pk=live.pk).update(state=JobState.RUNNING, claimed_by="alive:1:1.00")
    response = staff_client.post(
        "/admin/jobs/job/",
        {"action": "finish_stuck", "_selected_action": [stuck.pk, live.pk]},
        follow=True,
    )
    assert b"1 stuck job(s) finished" in response.content
    assert b"their worker is alive" in response.content
    stuck.refresh_from_db()
    live.refresh_from_db()
    assert stuck.state == JobState.FAILED
    assert "marked failed by staff from the admin" in stuck.logs.last().line
    assert live.state == JobState.RUNNING
