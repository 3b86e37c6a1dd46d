"""Enqueueing a job from a server page: POST /servers/<id>/jobs."""

import pytest

from jobs.models import Job, JobState
from servers.models import DesiredState

pytestmark = pytest.mark.django_db


def test_owner_enqueues_install_and_is_redirected_to_the_job(owner_client, owner, server):
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}"
    assert (job.kind, job.state, job.requested_by) == ("install", JobState.QUEUED, owner)


@pytest.mark.parametrize(
    "kind, desired",
    [("start", DesiredState.RUNNING), ("restart", DesiredState.RUNNING), ("stop", DesiredState.STOPPED)],
)
def test_enqueue_sets_desired_state(owner_client, server, kind, desired):
    if desired == DesiredState.STOPPED:
        server.desired_state = DesiredState.RUNNING
        server.save()
    owner_client.post(f"/servers/{server.id}/jobs", {"kind": kind})
    server.refresh_from_db()
    assert server.desired_state == desired


def test_install_leaves_desired_state_alone(owner_client, server):
    owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    server.refresh_from_db()
    assert server.desired_state == DesiredState.STOPPED


@pytest.mark.parametrize("kind", ["", "format_disk", "INSTALL", "install; rm -rf /"])
def test_unknown_kind_answers_400_and_creates_nothing(owner_client, server, kind):
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": kind})
    assert response.status_code == 400
    assert b"is not a job kind" in response.content
    assert not Job.objects.exists()


def test_outsider_cannot_enqueue(other_client, server):
    assert other_client.post(f"/servers/{server.id}/jobs", {"kind": "start"}).status_code == 404
    assert not Job.objects.exists()


def test_anonymous_cannot_enqueue(anon_client, server):
    response = anon_client.post(f"/servers/{server.id}/jobs", {"kind": "start"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Job.objects.exists()


def test_staff_can_enqueue_on_any_server(staff_client, staff, other_server):
    staff_client.post(f"/servers/{other_server.id}/jobs", {"kind": "start"})
    assert Job.objects.get().requested_by == staff


def test_enqueue_requires_csrf_token(owner, server):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/servers/{server.id}/jobs", {"kind": "install"}).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_server_jobs_rejects_other_methods(owner_client, server, method):
    assert getattr(owner_client, method)(f"/servers/{server.id}/jobs").status_code == 405


def test_a_double_click_queues_one_job_and_says_it_was_already_queued(owner_client, server):
    first = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    second = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"}, follow=True)
    assert Job.objects.filter(server=server).count() == 1
    assert first["Location"] == f"/jobs/{Job.objects.get().id}"
    assert b"already queued" in second.content


def test_an_owner_may_have_20_jobs_waiting_and_the_21st_answers_429(
    owner_client, owner, make_server, settings
):
    settings.MAX_QUEUED_PER_OWNER = 20
    servers = [make_server() for _ in range(21)]
    for server in servers[:20]:
        assert owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"}).status_code == 302
    response = owner_client.post(f"/servers/{servers[20].id}/jobs", {"kind": "install"})
    assert response.status_code == 429
    assert b"20 jobs are already waiting on your servers" in response.content
    assert Job.objects.count() == 20


def test_staff_are_not_held_by_the_queue_cap(staff_client, server, settings):
    settings.MAX_QUEUED_PER_OWNER = 0
    assert staff_client.post(f"/servers/{server.id}/jobs", {"kind": "install"}).status_code == 302


def test_the_same_kind_with_other_params_is_a_second_job_and_the_same_params_are_one(owner, server):
    first = Job.enqueue(server, "install", owner, params={"items": [1]})
    other = Job.enqueue(server, "install", owner, params={"items": [2]})
    again = Job.enqueue(server, "install", owner, params={"items": [1]})
    assert other.id != first.id and not other.duplicate
    assert again.id == first.id and again.duplicate


def test_a_re_run_takes_its_parents_params_unless_given_its_own(owner, server):
    parent = Job.enqueue(server, "install", owner, params={"backup": 7})
    Job.objects.filter(pk=parent.pk).update(state=JobState.FAILED)
    assert Job.enqueue(server, "install", owner, parent=parent).params == {"backup": 7}
    assert Job.enqueue(server, "start", owner, parent=parent, params={}).params == {}
