"""Game updates: builds detected (appmanifest, steamcmd, srcds's notice), shown, announced and applied."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from automation.models import UpdateCheck
from automation.updates import UpdateWatcher
from hostctl import builds
from jobs.models import Job, JobKind, JobLog, JobState, JobTrigger
from servers import events
from servers.models import ActualState, Node, Server, UpdatePolicy

from .processes import free_game_port, running, start_worker, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def host(settings, tmp_path, monkeypatch):
    """A simulated host in the test's folder: installs, steamcmd's home, and Steam's latest build."""
    settings.HOSTCTL_ROOT = tmp_path / "servers"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    latest = tmp_path / "latest_build"
    latest.write_text("100\n")
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD_FILE", str(latest))
    return latest


@pytest.fixture
def announced(monkeypatch):
    """Every server.update_available event, as (server id, text, job)."""
    seen = []

    def listen(sender, *, name, server, text, job=None, **kwargs):
        if name == "server.update_available":
            seen.append((server.id, text, job))

    events.server_event.connect(listen, dispatch_uid="test-updates")
    yield seen
    events.server_event.disconnect(dispatch_uid="test-updates")


def install_build(settings, server, build):
    """Lay down an appmanifest as steamcmd leaves it, with `build`."""
    manifest = builds.manifest_path(settings.HOSTCTL_ROOT / str(server.id))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(f'"AppState"\n{{\n\t"appid"\t\t"222860"\n\t"buildid"\t\t"{build}"\n}}\n')


def watcher(node=None):
    return UpdateWatcher(identity="test-host:1:1.00", node_name=node)


def fresh(server):
    return Server.objects.get(pk=server.pk)


def checked_long_ago(node_name=""):
    UpdateCheck.objects.filter(node_name=node_name).update(checked_at=timezone.now() - timedelta(days=1))


# --- detection and the badge, in-process ----------------------------------------------------


def test_a_newer_build_shows_on_the_server_page_and_list_and_is_announced_once(
    owner_client, server, host, settings, announced
):
    install_build(settings, server, 100)
    watch = watcher()
    watch.run_once()
    assert (fresh(server).installed_build, fresh(server).latest_build) == ("100", "100")
    assert "Update available" not in owner_client.get(f"/servers/{server.id}").content.decode()
    host.write_text("101\n")
    checked_long_ago()
    watch.run_once()
    assert fresh(server).latest_build == "101"
    for page in (f"/servers/{server.id}", "/servers/"):
        assert "Update available (build 100 → 101)" in owner_client.get(page).content.decode()
    watch.run_once()
    assert announced == [(server.id, f"A game update is available for {server.name}: build 100 → 101.", None)]
    assert not Job.objects.exists()  # notify only shows it


def test_steamcmd_is_asked_at_most_once_per_interval_per_host(server, host, settings):
    settings.UPDATE_CHECK_MINUTES = 60
    install_build(settings, server, 100)
    first, second = watcher(), watcher()  # two workers of one host
    first.run_once()
    checked = UpdateCheck.objects.get(node_name="").checked_at
    host.write_text("101\n")
    second.run_once()
    first.run_once()
    assert UpdateCheck.objects.get(node_name="").checked_at == checked
    assert fresh(server).latest_build == "100"  # not asked again within the hour


def test_the_servers_notice_makes_the_check_come_now(server, host, settings):
    settings.UPDATE_CHECK_MINUTES = 60
    install_build(settings, server, 100)
    log = settings.HOSTCTL_ROOT / str(server.id) / "console.log"
    log.write_text("Server is hibernating\n")
    watch = watcher()
    watch.run_once()
    host.write_text("101\n")
    with open(log, "a") as console:
        console.write(
            "MasterRequestRestart\nYour server needs to be restarted in order to receive the latest update.\n"
        )
    watch.run_once()
    assert fresh(server).latest_build == "101"


def test_apply_queues_one_update_job_by_the_monitor(server, host, settings, announced):
    Server.objects.filter(pk=server.pk).update(update_policy=UpdatePolicy.APPLY)
    install_build(settings, server, 100)
    host.write_text("101\n")
    watch = watcher()
    watch.run_once()
    watch.run_once()
    job = Job.objects.get()
    assert (job.kind, job.trigger, job.requested_by) == (JobKind.UPDATE, JobTrigger.MONITOR, None)
    [(server_id, text, announced_job)] = announced
    assert announced_job == job and text.endswith(f"Applying it now (job #{job.id}).")


def test_a_failed_apply_is_not_retried_for_the_same_build(server, host, settings):
    Server.objects.filter(pk=server.pk).update(update_policy=UpdatePolicy.APPLY)
    install_build(settings, server, 100)
    host.write_text("101\n")
    watch = watcher()
    watch.run_once()
    Job.objects.update(state=JobState.FAILED)
    watch.run_once()
    assert Job.objects.count() == 1  # the page still says so; a person decides
    host.write_text("102\n")
    checked_long_ago()
    watch.run_once()
    assert Job.objects.count() == 2


def test_switching_to_apply_after_a_notice_applies_the_build(server, host, settings):
    install_build(settings, server, 100)
    host.write_text("101\n")
    watch = watcher()
    watch.run_once()
    assert not Job.objects.exists()
    Server.objects.filter(pk=server.pk).update(update_policy=UpdatePolicy.APPLY)
    watch.run_once()
    assert Job.objects.get().trigger == JobTrigger.MONITOR


def test_policy_off_never_asks_steamcmd_nor_shows_a_badge(owner_client, server, host, settings):
    Server.objects.filter(pk=server.pk).update(update_policy=UpdatePolicy.OFF, latest_build="101")
    install_build(settings, server, 100)
    watcher().run_once()
    assert not UpdateCheck.objects.exists()
    assert "Update available" not in owner_client.get(f"/servers/{server.id}").content.decode()


def test_servers_of_another_node_are_left_to_that_nodes_worker(make_server, host, settings):
    east = make_server(node=Node.objects.create(name="east"))
    install_build(settings, east, 100)
    watcher().run_once()
    assert fresh(east).installed_build == ""
    watcher("east").run_once()
    assert fresh(east).installed_build == "100"
    assert UpdateCheck.objects.get().node_name == "east"


def test_a_steamcmd_that_fails_is_kept_on_the_check_for_staff(server, host, settings, tmp_path):
    fake = tmp_path / "steamcmd"
    fake.write_text("#!/bin/sh\necho 'Login Failure: No Connection'\n")
    fake.chmod(0o755)
    settings.HOSTCTL_SIMULATE = False
    settings.HOSTCTL_STEAMCMD = str(fake)
    install_build(settings, server, 100)
    watcher().run_once()
    check = UpdateCheck.objects.get()
    assert "Login Failure: No Connection" in check.error and check.latest_build == ""
    assert fresh(server).latest_build == ""


# --- the update policy -----------------------------------------------------------------------


def test_owner_sets_the_update_policy_from_the_server_page(owner_client, server):
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'action="/servers/{server.id}/update-policy"' in page
    response = owner_client.post(f"/servers/{server.id}/update-policy", {"update_policy": "apply"})
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}"
    assert fresh(server).update_policy == UpdatePolicy.APPLY


def test_an_unknown_policy_is_400(owner_client, server):
    assert (
        owner_client.post(f"/servers/{server.id}/update-policy", {"update_policy": "yolo"}).status_code == 400
    )
    assert fresh(server).update_policy == UpdatePolicy.NOTIFY


def test_outsiders_anonymous_and_wrong_methods_change_no_policy(
    other_client, anon_client, owner_client, server
):
    url = f"/servers/{server.id}/update-policy"
    assert other_client.post(url, {"update_policy": "off"}).status_code == 404
    assert anon_client.post(url, {"update_policy": "off"})["Location"].startswith("/accounts/login/")
    assert owner_client.get(url).status_code == 405
    assert fresh(server).update_policy == UpdatePolicy.NOTIFY


def test_setting_the_policy_requires_a_csrf_token(owner, server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/servers/{server.id}/update-policy", {"update_policy": "off"}).status_code == 403


def test_install_is_disabled_with_a_reason_while_the_server_runs(owner_client, server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert 'disabled aria-describedby="why-install"' in page
    why = "Stop it first (Update stops and starts it for you)."
    assert f'<small class="why" id="why-install">{why}</small>' in page


# --- with a real worker -------------------------------------------------------------------------


def worker_env(host, tmp_path, **extra):
    return {
        "HOSTCTL_ROOT": tmp_path / "servers",
        "HOSTCTL_SIM_LATEST_BUILD_FILE": host,
        "HOME": tmp_path / "home",
        **extra,
    }


def run_job(server, kind, owner):
    job = Job.enqueue(server, kind, owner)
    wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=90)
    assert Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, list(
        JobLog.objects.filter(job=job).values_list("line", flat=True)
    )
    return job


def page_says(client, server, text):
    return text in client.get(f"/servers/{server.id}").content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_raising_the_latest_build_makes_the_page_say_update_available_within_one_check(
    owner_client, owner, make_server, host, tmp_path
):
    server = make_server(port=free_game_port())
    env = worker_env(host, tmp_path, L4D2_UPDATE_CHECK_MINUTES="0.05")  # a check every 3 s
    with running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", **env)):
        run_job(server, JobKind.INSTALL, owner)
        wait_until(lambda: fresh(server).installed_build == "100" and fresh(server).latest_build == "100")
        assert not page_says(owner_client, server, "Update available")
        host.write_text("101\n")
        wait_until(lambda: page_says(owner_client, server, "Update available (build 100 → 101)"), timeout=30)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_servers_notice_brings_the_news_long_before_the_hourly_check(
    owner_client, owner, make_server, host, tmp_path
):
    server = make_server(port=free_game_port())
    with running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", **worker_env(host, tmp_path))):
        run_job(server, JobKind.INSTALL, owner)
        run_job(server, JobKind.START, owner)
        wait_until(lambda: fresh(server).latest_build == "100")
        host.write_text("101\n")  # srcds notices within a second and says so in its console
        wait_until(lambda: page_says(owner_client, server, "Update available (build 100 → 101)"), timeout=30)
        run_job(server, JobKind.STOP, owner)
    assert "says a game update is out: checking now" in (tmp_path / "w.log").read_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_apply_warns_stops_updates_and_starts_and_the_server_runs_the_new_build(
    owner_client, owner, make_server, host, tmp_path
):
    server = make_server(port=free_game_port(), update_policy=UpdatePolicy.APPLY)
    env = worker_env(host, tmp_path, L4D2_UPDATE_CHECK_MINUTES="0.05", L4D2_WARNING_SECONDS="1")
    with running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", **env)):
        run_job(server, JobKind.INSTALL, owner)
        run_job(server, JobKind.START, owner)
        host.write_text("101\n")
        update = wait_until(lambda: Job.objects.filter(kind=JobKind.UPDATE).first(), timeout=30)
        wait_until(lambda: Job.objects.get(pk=update.pk).is_finished, timeout=90)
        update.refresh_from_db()
        log = list(JobLog.objects.filter(job=update).order_by("seq").values_list("stream", "line"))
        assert update.state == JobState.SUCCEEDED and update.trigger == JobTrigger.MONITOR, log
        assert [line for stream, line in log if stream == "phase"] == [
            "Warn players",
            "Stop",
            "Update",
            "Start",
        ]
        assert ("system", 'Console: say "The server restarts in 1 second for a game update."') in log
        wait_until(lambda: fresh(server).installed_build == "101")
        assert fresh(server).actual_state == ActualState.RUNNING
        assert not page_says(owner_client, server, "Update available")
        run_job(server, JobKind.STOP, owner)
