"""Players are warned before a restart, stop or update takes their server down; Go on now ends the wait."""

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState
from servers import permissions
from servers.models import ServerMember

from .processes import free_game_port, running, start_worker, wait_until

pytestmark = pytest.mark.django_db


def log_of(job):
    return list(JobLog.objects.filter(job=job).order_by("seq").values_list("stream", "line"))


def running_job(server, owner, kind=JobKind.RESTART):
    job = Job.enqueue(server, kind, owner)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, started_at=timezone.now())
    job.refresh_from_db()
    return job


def test_go_on_now_flags_a_running_restart_for_the_worker(owner_client, owner, server):
    job = running_job(server, owner)
    page = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert f'action="/jobs/{job.id}/now"' in page and "Go on now</button>" in page
    response = owner_client.post(f"/jobs/{job.id}/now")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}"
    job.refresh_from_db()
    assert job.hurry_requested_at is not None and job.state == JobState.RUNNING
    assert "Go on now</button>" not in owner_client.get(f"/jobs/{job.id}").content.decode()


def test_go_on_now_swaps_the_status_panel_for_htmx(owner_client, owner, server):
    job = running_job(server, owner, JobKind.STOP)
    response = owner_client.post(f"/jobs/{job.id}/now", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-status")
    assert response.status_code == 200
    assert 'id="job-status"' in response.content.decode() and "Going on now." in response.content.decode()


def test_go_on_now_on_a_finished_job_or_an_install_answers_409(owner_client, owner, server):
    done = Job.enqueue(server, JobKind.RESTART, owner)
    Job.objects.filter(pk=done.pk).update(state=JobState.SUCCEEDED, finished_at=timezone.now(), exit_code=0)
    answer = owner_client.post(f"/jobs/{done.id}/now")
    assert answer.status_code == 409 and "there is no warning to end" in answer.content.decode()
    install = running_job(server, owner, JobKind.INSTALL)
    answer = owner_client.post(f"/jobs/{install.id}/now")
    assert answer.status_code == 409 and "does not warn players" in answer.content.decode()
    assert not Job.objects.filter(hurry_requested_at__isnull=False).exists()


def test_go_on_now_asks_for_the_jobs_kind_permission(owner, server, django_user_model):
    job = running_job(server, owner)
    helper = django_user_model.objects.create_user("helper", password="pw")
    ServerMember.objects.create(server=server, user=helper, permissions=permissions.clean(["power.stop"]))
    client = Client()
    client.force_login(helper)
    assert "Go on now</button>" not in client.get(f"/jobs/{job.id}").content.decode()
    assert client.post(f"/jobs/{job.id}/now").status_code == 403
    ServerMember.objects.filter(user=helper).update(permissions=permissions.clean(["power.restart"]))
    assert client.post(f"/jobs/{job.id}/now").status_code == 302


def test_outsiders_anonymous_and_wrong_methods_skip_no_warning(
    other_client, anon_client, owner_client, owner, server
):
    job = running_job(server, owner)
    assert other_client.post(f"/jobs/{job.id}/now").status_code == 404
    assert anon_client.post(f"/jobs/{job.id}/now").status_code == 302
    assert owner_client.get(f"/jobs/{job.id}/now").status_code == 405
    assert Job.objects.get(pk=job.pk).hurry_requested_at is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_restart_warns_its_players_and_go_on_now_cuts_the_minute_short(
    owner_client, owner, make_server, tmp_path
):
    server = make_server(port=free_game_port())
    env = {"HOSTCTL_ROOT": tmp_path / "servers", "HOME": tmp_path / "home", "L4D2_WARNING_SECONDS": "60"}
    with running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", **env)):
        for kind in (JobKind.INSTALL, JobKind.START):
            job = Job.enqueue(server, kind, owner)
            wait_until(lambda job=job: Job.objects.get(pk=job.pk).is_finished, timeout=60)
        restart = Job.enqueue(server, JobKind.RESTART, owner)
        warned = ("system", "3 player(s) on: warning in the console 60 s ahead.")
        wait_until(lambda: warned in log_of(restart), timeout=30)
        assert ("system", 'Console: say "The server restarts in 60 seconds."') in log_of(restart)
        assert owner_client.post(f"/jobs/{restart.id}/now").status_code == 302
        wait_until(lambda: Job.objects.get(pk=restart.pk).is_finished, timeout=30)
        restart.refresh_from_db()
        assert restart.state == JobState.SUCCEEDED, log_of(restart)
        assert ("system", "Asked to go on now: the rest of the warning is skipped.") in log_of(restart)
        assert (restart.finished_at - restart.started_at).total_seconds() < 40
        stop = Job.enqueue(server, JobKind.STOP, owner)
        wait_until(lambda: ("system", warned[1]) in log_of(stop), timeout=30)
        owner_client.post(f"/jobs/{stop.id}/now")
        wait_until(lambda: Job.objects.get(pk=stop.pk).is_finished, timeout=30)
        assert ("system", 'Console: say "Shutting down now."') in log_of(stop)


def test_stop_restart_and_update_ask_first_only_while_players_are_on(owner_client, server):
    from servers.models import ActualState, Server

    Server.objects.filter(pk=server.pk).update(
        actual_state=ActualState.RUNNING, player_count=0, name="Bunker"
    )
    assert "data-confirm" not in owner_client.get(f"/servers/{server.id}").content.decode()
    Server.objects.filter(pk=server.pk).update(player_count=2)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    for kind in ("Stop", "Restart", "Update"):
        assert f'data-confirm="2 players on Bunker. {kind} ' in page
    assert page.count("data-confirm=") == 3, "Start asks nothing; Install is off while it runs"
