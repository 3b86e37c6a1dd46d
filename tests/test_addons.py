"""SourceMod, MetaMod, plugins and admins of a server, through a real worker (DESIGN.md §14).

The worker downloads from the fake AlliedModders host (hostctl/sim/alliedmods.py), runs the
`sourcemod` jobs on the game host's files, and serves the file relay the plugins and admins
pages go through; the srcds simulator answers `sm` commands once SourceMod was installed
before it started.
"""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from activity.models import Event
from addons.models import ModState
from hostctl import smadmins
from hostctl.sim import alliedmods as fake
from jobs.models import Job, JobKind, JobState
from servers import l4d2_facade
from servers.models import ActualState, ConsoleLine

from .files_worker import file_worker
from .processes import wait_until
from .trees import sha256_tree

pytestmark = pytest.mark.django_db(transaction=True)

SM = "left4dead2/addons/sourcemod"


@pytest.fixture
def home(sim_host, udp_server):
    """The server installed (the steamcmd simulator) and stopped: its directory."""
    code = l4d2_facade.run("install", udp_server, lambda *_: None)
    assert code == 0
    l4d2_facade.refresh_actual_state(udp_server)
    return sim_host / str(udp_server.id)


@pytest.fixture
def worker(sim_host, home, drops, tmp_path):
    env = {
        "L4D2_SOURCEMOD_URL": f"{drops.url}/smdrop",
        "L4D2_METAMOD_URL": f"{drops.url}/mmsdrop",
        "HOSTCTL_SIM_PLAYERS": "",
    }
    with file_worker(sim_host, log_path=tmp_path / "worker.log", **env) as proc:
        yield proc


def finished(job_id, timeout=60):
    job = Job.objects.get(pk=job_id)

    def done():
        job.refresh_from_db()
        return job.state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    wait_until(done, timeout=timeout, interval=0.1)
    return job


def log_of(job):
    return "\n".join(job.logs.order_by("seq").values_list("line", flat=True))


def sourcemod(client, server, action):
    """The page's button: the job it queued, run to its end by the worker."""
    response = client.post(f"/servers/{server.id}/addons/sourcemod", {"action": action})
    assert response.status_code == 302, response.content
    job = finished(int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert job.state == JobState.SUCCEEDED, log_of(job)
    return job


@pytest.mark.slow
def test_install_update_and_remove_lay_out_keep_and_clean_up_as_upstream_and_the_owner_expect(
    owner_client, udp_server, home, worker, drops
):
    before = sha256_tree(home / "left4dead2")
    job = sourcemod(owner_client, udp_server, "install")
    game = home / "left4dead2"
    assert (game / "addons/metamod.vdf").read_text() == fake.METAMOD_VDF
    assert (game / "addons/metamod/sourcemod.vdf").is_file()
    for folder in (
        "bin",
        "configs",
        "data",
        "extensions",
        "gamedata",
        "logs",
        "plugins/disabled",
        "translations",
    ):
        assert (game / "addons/sourcemod" / folder).is_dir(), folder
    assert (game / "cfg/sourcemod/sourcemod.cfg").is_file()
    assert "sha256" in log_of(job) and "laid out as SourceMod ships" in log_of(job)
    states = {s.name: s.version for s in ModState.objects.filter(server=udp_server)}
    assert states == {"sourcemod": "1.12.0-git7210", "metamod": "1.12.0-git1219"}
    event = Event.objects.get(action="addon.installed")
    assert event.actor.username == "owner" and event.detail["job"] == job.id

    admins = game / "addons/sourcemod/configs/admins_simple.ini"
    admins.write_text(admins.read_text() + '"STEAM_0:1:16"\t"99:z"\t// by hand\n')
    (game / "addons/sourcemod/plugins/mine.smx").write_bytes(b"FFPS my plugin")
    drops.sourcemod_build = 7300
    api = owner_client.post(
        f"/api/v1/servers/{udp_server.id}/addons/sourcemod",
        {"action": "update"},
        content_type="application/json",
    )
    assert api.status_code == 202
    update = finished(api.json()["job"]["id"])
    assert update.state == JobState.SUCCEEDED, log_of(update)
    assert admins.read_text().endswith('"STEAM_0:1:16"\t"99:z"\t// by hand\n')
    assert (game / "addons/sourcemod/plugins/mine.smx").read_bytes() == b"FFPS my plugin"
    assert ModState.objects.get(server=udp_server, name="sourcemod").version == "1.12.0-git7300"
    assert Event.objects.filter(action="addon.updated").exists()

    sourcemod(owner_client, udp_server, "remove")
    after = sha256_tree(game)
    assert set(after) - set(before) == {
        "addons/sourcemod/configs/admins_simple.ini",
        "addons/sourcemod/plugins/mine.smx",
    }
    assert not (game / "addons/metamod").exists()
    assert ModState.objects.get(server=udp_server, name="sourcemod").version == ""
    page = owner_client.get(f"/servers/{udp_server.id}/addons").content.decode()
    assert "not installed" in page and "mine.smx" in page


@pytest.mark.slow
def test_plugins_are_uploaded_checked_disabled_enabled_and_deleted_on_the_game_host(
    owner_client, udp_server, home, worker
):
    sourcemod(owner_client, udp_server, "install")
    plugins = home / SM / "plugins"
    url = f"/servers/{udp_server.id}/addons/plugins"

    source = SimpleUploadedFile("mine.smx", b"#include <sourcemod>\npublic void OnPluginStart() {}\n")
    refused = owner_client.post(url, {"plugin": source})
    assert refused.status_code == 400 and "not a compiled SourceMod plugin" in refused.content.decode()
    assert not (plugins / "mine.smx").exists()

    good = SimpleUploadedFile("mine.smx", b"FFPS\x02\x01" + bytes(500))
    assert owner_client.post(url, {"plugin": good}).status_code == 302
    assert (plugins / "mine.smx").read_bytes()[:4] == b"FFPS"

    assert owner_client.post(f"{url}/mine.smx", {"enabled": "0"}).status_code == 302
    assert (plugins / "disabled/mine.smx").is_file() and not (plugins / "mine.smx").exists()
    api = owner_client.post(
        f"/api/v1/servers/{udp_server.id}/addons/plugins/nextmap.smx",
        {"enabled": True},
        content_type="application/json",
    )
    assert api.status_code == 200 and (plugins / "nextmap.smx").is_file()

    listed = owner_client.get(f"/api/v1/servers/{udp_server.id}/addons").json()
    by_file = {p["file"]: p["enabled"] for p in listed["plugins"]}
    assert (
        by_file["mine.smx"] is False
        and by_file["nextmap.smx"] is True
        and by_file["basecommands.smx"] is True
    )
    assert listed["sourcemod"]["version"] == "1.12.0-git7210" and listed["workshop"] == []

    assert owner_client.post(f"{url}/mine.smx/delete").status_code == 302
    assert not (plugins / "disabled/mine.smx").exists()

    api = f"/api/v1/servers/{udp_server.id}/addons/plugins/bot.smx"
    wrong = owner_client.put(api, b"PK\x03\x04 a zip", content_type="application/octet-stream")
    assert (
        wrong.status_code == 400 and "FFPS" in wrong.json()["detail"] and not (plugins / "bot.smx").exists()
    )
    put = owner_client.put(api, b"FFPS\x02\x01bot", content_type="application/octet-stream")
    assert put.status_code == 200 and (plugins / "bot.smx").read_bytes() == b"FFPS\x02\x01bot"
    assert owner_client.delete(api).status_code == 200 and not (plugins / "bot.smx").exists()
    assert owner_client.delete(api).status_code == 404
    actions = list(
        Event.objects.filter(action__startswith="plugin.").order_by("id").values_list("action", flat=True)
    )
    assert actions == [
        *("plugin.uploaded", "plugin.disabled", "plugin.enabled", "plugin.deleted"),
        *("plugin.uploaded", "plugin.deleted"),
    ]


@pytest.mark.slow
def test_admins_are_written_in_the_panels_block_keeping_hand_edits_and_refusing_a_stale_page(
    owner_client, udp_server, home, worker
):
    sourcemod(owner_client, udp_server, "install")
    path = home / SM / "configs/admins_simple.ini"
    path.write_text(path.read_text() + '"STEAM_0:0:42"\t"bce"\t// friend\n"STEAM_0:1:9" "99:z\n')
    url = f"/api/v1/servers/{udp_server.id}/addons/admins"
    rows = [
        {"steam_id": "[U:1:33]", "flags": ["kick", "ban"], "immunity": 10, "name": "Alice"},
        {"steam_id": "76561197960265760", "flags": ["root"], "immunity": 99, "name": "Owner"},
    ]
    answer = owner_client.put(url, rows, content_type="application/json")
    assert answer.status_code == 200, answer.content
    text = path.read_text()
    assert '"STEAM_0:0:42"\t"bce"\t// friend\n' in text and '"STEAM_0:1:9" "99:z\n' in text
    block = ['"STEAM_1:1:16"\t"10:cd"\t// Alice', '"STEAM_1:0:16"\t"99:z"\t// Owner']
    assert "\n".join([smadmins.BEGIN, *block, smadmins.END]) in text
    assert [line["text"] for line in answer.json()["admins_file"]["unreadable"]] == ['"STEAM_0:1:9" "99:z']
    assert Event.objects.get(action="admins.updated").detail["admins"] == 2

    page = owner_client.get(f"/servers/{udp_server.id}/addons").content.decode()
    assert "STEAM_1:0:42: generic, kick, unban" in page and "line " in page
    stale = hashlib.sha256(text.encode()).hexdigest()
    path.write_text(text + "// changed meanwhile\n")
    form = {"sha256": stale, "rows": "1", "steam_id_0": "STEAM_0:1:5", "flags_0": ["kick"], "immunity_0": "0"}
    conflict = owner_client.post(f"/servers/{udp_server.id}/addons/admins", form)
    assert conflict.status_code == 409 and 'value="STEAM_0:1:5"' in conflict.content.decode()
    assert path.read_text().endswith("// changed meanwhile\n")

    bad = owner_client.put(url, [{"steam_id": "bob", "flags": ["kick"]}], content_type="application/json")
    assert bad.status_code == 400 and "Admin 1" in bad.json()["detail"]


@pytest.mark.slow
def test_a_running_server_with_sourcemod_loaded_is_told_to_refresh_its_plugins(
    owner_client, udp_server, home, worker
):
    sourcemod(owner_client, udp_server, "install")
    assert l4d2_facade.run("start", udp_server, lambda *_: None) == 0
    l4d2_facade.refresh_actual_state(udp_server)
    udp_server.refresh_from_db()
    assert udp_server.actual_state == ActualState.RUNNING
    answer = owner_client.post(
        f"/api/v1/servers/{udp_server.id}/addons/plugins/nextmap.smx",
        {"enabled": True},
        content_type="application/json",
    )
    assert "told to reload" in answer.json()["note"]
    wait_until(
        lambda: ConsoleLine.objects.filter(
            server=udp_server, line__contains="plugin list has been refreshed"
        ).exists(),
        timeout=20,
    )
    l4d2_facade.run("stop", udp_server, lambda *_: None)


@pytest.mark.slow
def test_a_cancelled_install_leaves_no_partial_download(owner_client, udp_server, home, worker, drops):
    drops.rate = 32 * 1024
    response = owner_client.post(f"/servers/{udp_server.id}/addons/sourcemod", {"action": "install"})
    job = Job.objects.get(kind=JobKind.SOURCEMOD)
    wait_until(lambda: "Downloading" in log_of(job), timeout=20)
    job.request_cancel(None)
    job = finished(job.id)
    assert response.status_code == 302 and job.state == JobState.CANCELLED
    assert not [p for p in home.rglob("*") if p.name.endswith((".part", ".tar.gz"))]
    assert not (home / "left4dead2/addons/metamod.vdf").exists()


def test_sourcemod_actions_are_checked_before_a_job_is_queued(owner_client, server):
    answer = owner_client.post(
        f"/api/v1/servers/{server.id}/addons/sourcemod",
        {"action": "reinstall"},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "install, update, remove" in answer.json()["detail"]
    assert owner_client.post(f"/servers/{server.id}/jobs", {"kind": "sourcemod"}).status_code == 400
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "state, started, restart",
    [("running", -60, True), ("running", +60, False), ("stopped", -60, False)],
)
def test_the_page_asks_for_a_restart_only_while_the_server_runs_files_it_started_without(
    owner_client, server, state, started, restart
):
    from datetime import timedelta

    from django.utils import timezone

    changed = timezone.now()
    ModState.objects.create(server=server, name="sourcemod", version="1.12.0-git7210", changed_at=changed)
    server.actual_state, server.actual_state_since = state, changed + timedelta(seconds=started)
    server.save()
    page = owner_client.get(f"/servers/{server.id}/addons").content.decode()
    assert ('id="restart-needed"' in page) is restart
    assert "1.12.0-git7210" in page


def test_a_plugin_over_the_size_limit_is_refused_before_it_reaches_the_game_host(
    owner_client, server, settings
):
    settings.L4D2_PLUGIN_MAX_KB = 1
    big = SimpleUploadedFile("big.smx", b"FFPS" + bytes(2048))
    answer = owner_client.post(f"/servers/{server.id}/addons/plugins", {"plugin": big})
    assert answer.status_code == 413 and "at most 1 KB" in answer.content.decode()
    assert not Event.objects.filter(action__startswith="plugin.").exists()


def test_without_a_worker_the_addons_say_the_game_host_cannot_be_reached(owner_client, server):
    answer = owner_client.get(f"/api/v1/servers/{server.id}/addons").json()
    assert answer["sourcemod"] is None and answer["plugins"] is None and answer["workshop"] == []
    assert "No worker is running" in answer["host_error"]
    page = owner_client.get(f"/servers/{server.id}/addons").content.decode()
    assert 'id="host-error"' in page and "No worker is running" in page
