"""Re-run: POST /jobs/<id>/retry queues the same kind on the same server as a new job, linked both ways."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobKind, JobState, JobTrigger
from servers.models import ActualState, Server

from .processes import free_game_port, running, start_worker, wait_until

pytestmark = pytest.mark.django_db


def finish(job, state=JobState.FAILED):
    Job.objects.filter(pk=job.pk).update(state=state, finished_at=timezone.now(), exit_code=1)
    job.refresh_from_db()
    return job


def rerun_of(response):
    return Job.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))


def test_owner_reruns_a_failed_job_as_a_new_linked_job(owner_client, owner, job):
    finish(job)
    response = owner_client.post(f"/jobs/{job.id}/retry")
    assert response.status_code == 302 and re.fullmatch(r"/jobs/\d+", response["Location"])
    new = rerun_of(response)
    assert new.pk != job.pk
    assert (new.server_id, new.kind, new.state) == (job.server_id, job.kind, JobState.QUEUED)
    assert (new.trigger, new.parent_id, new.requested_by) == (JobTrigger.RETRY, job.pk, owner)
    page = owner_client.get(response["Location"]).content.decode()
    assert f"queued again as job #{new.id}, a re-run of job #{job.id}" in page
    assert f'Re-run of <a href="/jobs/{job.id}">#{job.id}</a>' in page


def test_the_rerun_job_is_linked_from_the_job_it_reruns(owner_client, job):
    finish(job, JobState.SUCCEEDED)
    first = rerun_of(owner_client.post(f"/jobs/{job.id}/retry"))
    finish(first)
    second = rerun_of(owner_client.post(f"/jobs/{job.id}/retry"))
    page = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert (
        f'Re-run as <a href="/jobs/{first.id}">#{first.id}</a>, <a href="/jobs/{second.id}">#{second.id}</a>'
        in page
    )


def test_a_finished_jobs_page_offers_rerun_and_an_unfinished_one_does_not(owner_client, job):
    assert "data-retry-job" not in owner_client.get(f"/jobs/{job.id}").content.decode()
    finish(job, JobState.CANCELLED)
    page = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert f'action="/jobs/{job.id}/retry"' in page and "Re-run</button>" in page


@pytest.mark.parametrize("state", [JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING])
def test_rerunning_an_unfinished_job_is_409_and_queues_nothing(owner_client, job, state):
    Job.objects.filter(pk=job.pk).update(state=state)
    response = owner_client.post(f"/jobs/{job.id}/retry")
    assert response.status_code == 409
    assert "it can be re-run once it has finished" in response.content.decode()
    assert Job.objects.count() == 1


def test_staff_rerun_anyones_job(staff_client, staff, job):
    finish(job)
    new = rerun_of(staff_client.post(f"/jobs/{job.id}/retry"))
    assert new.requested_by == staff and new.parent_id == job.pk


def test_outsider_gets_404_and_nothing_is_queued(other_client, job):
    finish(job)
    assert other_client.post(f"/jobs/{job.id}/retry").status_code == 404
    assert Job.objects.count() == 1


def test_anonymous_is_sent_to_log_in(anon_client, job):
    finish(job)
    response = anon_client.post(f"/jobs/{job.id}/retry")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_rerun_with_get_is_405(owner_client, job):
    finish(job)
    assert owner_client.get(f"/jobs/{job.id}/retry").status_code == 405


def test_rerun_requires_a_csrf_token(owner, job):
    finish(job)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/jobs/{job.id}/retry").status_code == 403
    assert Job.objects.count() == 1


def test_a_rerun_while_the_same_kind_is_queued_shows_that_job(owner_client, server, owner, job):
    finish(job)
    waiting = Job.enqueue(server, JobKind.INSTALL, owner)
    response = owner_client.post(f"/jobs/{job.id}/retry")
    assert response["Location"] == f"/jobs/{waiting.id}"
    assert "was already queued" in owner_client.get(response["Location"]).content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_start_that_failed_before_install_succeeds_when_rerun_after_installing(
    owner_client, owner, make_server, tmp_path
):
    server = make_server(port=free_game_port())
    start = Job.enqueue(server, JobKind.START, owner)
    worker = start_worker("--poll", "0.1", log_path=tmp_path / "w.log", HOSTCTL_ROOT=tmp_path / "servers")
    with running(worker):
        wait_until(lambda: Job.objects.get(pk=start.pk).state == JobState.FAILED, timeout=60)
        install = Job.enqueue(server, JobKind.INSTALL, owner)
        wait_until(lambda: Job.objects.get(pk=install.pk).state == JobState.SUCCEEDED, timeout=60)
        rerun = rerun_of(owner_client.post(f"/jobs/{start.id}/retry"))
        wait_until(lambda: Job.objects.get(pk=rerun.pk).is_finished, timeout=60)
        rerun.refresh_from_db()
        assert rerun.state == JobState.SUCCEEDED and rerun.parent_id == start.pk
        stop = Job.enqueue(server, JobKind.STOP, owner)
        wait_until(lambda: Job.objects.get(pk=stop.pk).is_finished, timeout=60)


def test_rerun_of_install_on_a_running_server_answers_409_with_the_buttons_reason(owner_client, server, job):
    finish(job)
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    response = owner_client.post(f"/jobs/{job.id}/retry")
    assert response.status_code == 409
    assert "Stop it first (Update stops and starts it for you)." in response.content.decode()
    assert Job.objects.count() == 1


def test_enqueueing_a_kind_whose_button_is_off_answers_409_and_queues_nothing(owner_client, server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.NOT_INSTALLED)
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "start"})
    assert response.status_code == 409
    assert "Install it first." in response.content.decode()
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "Stop it first (Update stops and starts it for you)." in page, "the button says the same"
    assert owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"}).status_code == 409
    assert not Job.objects.exists()


def test_the_api_refuses_what_the_buttons_refuse_with_the_same_reason(owner, server, job):
    from api.models import ApiKey

    finish(job)
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    key = ApiKey.new(owner, "rules", ["server.read", "game.install"])[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    api = Client()
    retry = api.post(f"/api/v1/jobs/{job.id}/retry", **headers)
    enqueue = api.post(
        f"/api/v1/servers/{server.id}/jobs", {"kind": "install"}, content_type="application/json", **headers
    )
    for answer in (retry, enqueue):
        assert answer.status_code == 409
        assert "Stop it first (Update stops and starts it for you)." in answer.json()["detail"]
    assert Job.objects.count() == 1


def test_the_rerun_button_is_off_with_the_reason_when_the_kind_makes_no_sense_now(owner_client, server, job):
    finish(job)
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    page = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert 'title="Stop it first (Update stops and starts it for you)." disabled>Re-run</button>' in page
