"""Pending settings with a real worker: a save the running server does not have shows on its page,
and Apply now (a restart that warns its players first) brings it over, after which nothing is pending."""

import contextlib
from html import unescape

import pytest

from jobs.models import Job, JobKind, JobLog, JobState
from servers.models import Server

from .processes import free_game_port, kill_leftovers, running, start_worker, wait_until
from .test_server_settings import VALID


def finished(job):
    wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED, list(JobLog.objects.filter(job=job).values_list("line"))
    return job


def server_page(client, server):
    return unescape(client.get(f"/servers/{server.id}").content.decode())


@contextlib.contextmanager
def leftovers_killed(root):
    try:
        yield
    finally:
        kill_leftovers(root / "servers")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pending_changes_appear_after_a_save_and_disappear_after_apply_now(
    owner_client, owner, make_server, tmp_path
):
    server = make_server(port=free_game_port(), name="Owner's server")
    env = {"HOSTCTL_ROOT": tmp_path / "servers", "HOME": tmp_path / "home", "L4D2_WARNING_SECONDS": "1"}
    # The server it starts outlives the worker, as game servers do: stopped when the test ends.
    with (
        running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", **env)),
        leftovers_killed(tmp_path),
    ):
        for kind in (JobKind.INSTALL, JobKind.START):
            finished(Job.enqueue(server, kind, owner))
        assert 'id="server-pending"' not in server_page(owner_client, server)

        form = {**VALID, "max_players": "4", "map": "c2m1_highway"}
        assert owner_client.post(f"/servers/{server.id}/settings", form).status_code == 302
        page = server_page(owner_client, server)
        assert "<strong>Map</strong> (c2m1_highway), <strong>Max players</strong> (4)" in page
        assert "Apply now</button>" in page

        response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "restart", "apply": "1"})
        restart = finished(Job.objects.get(kind=JobKind.RESTART))
        assert response["Location"] == f"/jobs/{restart.id}"
        lines = list(JobLog.objects.filter(job=restart).values_list("line", flat=True))
        assert "3 player(s) on: warning in the console 1 s ahead." in lines
        assert any(line.startswith("Server is up:") and "on c2m1_highway, 4 slots" in line for line in lines)
        assert 'id="server-pending"' not in server_page(owner_client, server)
        assert Server.objects.get(pk=server.pk).started_with["max_players"] == 4
