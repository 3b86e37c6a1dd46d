"""The live server page and list: state frames over WebSockets, connect address, players,
crash notes, disabled actions with reasons, the auto-restart switch, the 24 h charts."""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from l4d2site.asgi import application
from servers.charts import BUCKETS, SPAN, history
from servers.live import list_frame, list_row, notify_server
from servers.models import ActualState, Node, Server, ServerCrash, ServerSample

from .test_job_logs import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

XSS = "<script>alert(1)</script>"
JOINED = "2026-01-01T10:00:00+00:00"
STOP_FIRST = "Stop it first (Update stops and starts it for you)."


def make_running(server, **fields):
    fields = {
        "actual_state": ActualState.RUNNING,
        "desired_state": "running",
        "actual_state_since": timezone.now() - timedelta(hours=2),
        "map_seen": "c2m1_highway",
        "player_count": 2,
        "max_players_seen": 8,
        "players": [
            {"name": XSS, "score": 7, "joined": JOINED},
            {"name": "Ellis", "score": 0, "joined": JOINED},
        ],
        **fields,
    }
    Server.objects.filter(pk=server.pk).update(**fields)
    server.refresh_from_db()
    return server


async def connect(path, user=None):
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.mark.parametrize("stream", ["state", "console"])
async def test_server_page_viewers_never_wait_for_djangos_one_thread_sensitive_thread(
    owner, server, stream, count_thread_sensitive_hops
):
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    headers.append((b"cookie", await sync_to_async(session_cookie)(owner)))
    comm = WebsocketCommunicator(application, f"/ws/servers/{server.id}/{stream}", headers=headers)
    hops = count_thread_sensitive_hops()
    await comm.connect()
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"
    await comm.disconnect()
    assert hops == []


async def assert_refused(comm):
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


# --- the server page ----------------------------------------------------------------------


def test_the_page_shows_map_players_uptime_and_how_to_connect(owner_client, server):
    make_running(server)
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert 'id="server-state" class="badge s-running"' in content
    assert '<dd id="server-map">c2m1_highway</dd>' in content
    assert '<dd id="server-player-count">2/8</dd>' in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content and XSS not in content
    assert f'data-joined="{JOINED}"' in content
    assert "2\xa0hours" in content  # uptime, before the script takes over
    assert f"connect testserver:{server.port}" in content
    assert f'href="steam://connect/testserver:{server.port}"' in content


def test_the_connect_address_is_the_nodes_then_the_setting_then_the_pages_host(
    owner_client, server, settings
):
    settings.PUBLIC_ADDRESS = "play.example.org"
    assert (
        f"connect play.example.org:{server.port}"
        in owner_client.get(f"/servers/{server.id}").content.decode()
    )
    server.node = Node.objects.create(name="eu-1", address="203.0.113.7")
    server.save()
    assert f"connect 203.0.113.7:{server.port}" in owner_client.get(f"/servers/{server.id}").content.decode()


def test_a_stopped_server_shows_no_players_and_its_configured_map(owner_client, server):
    make_running(server, actual_state=ActualState.STOPPED, map_seen="")
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'<dd id="server-map">{server.map}</dd>' in content
    assert "Ellis" not in content and 'id="server-players-empty">Nobody is playing.' in content


def test_the_last_crash_and_a_paused_auto_restart_are_explained(owner_client, server):
    make_running(server, actual_state=ActualState.CRASHED, autorestart_paused_at=timezone.now())
    ServerCrash.objects.create(
        server=server, reason="segfault", detail="srcds crashed with a segmentation fault.", action="paused"
    )
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "Automatic restarts are paused" in content and "Start or Restart it to run it again" in content
    assert '<strong id="server-crash-reason">Segmentation fault</strong>' in content
    assert "srcds crashed with a segmentation fault." in content


@pytest.mark.parametrize(
    "job_state, words",
    [
        ("queued", "Restart queued"),
        ("running", "Restarting"),
        ("succeeded", "Restarted"),
        ("failed", "The restart failed"),
    ],
)
def test_the_crash_card_says_what_became_of_its_restart(server, job_state, words):
    from jobs.models import Job, JobKind, JobTrigger
    from servers.live import state_frame

    ServerCrash.objects.create(server=server, reason="segfault", detail="segfault", action="restarted")
    Job.objects.create(server=server, kind=JobKind.RESTART, trigger=JobTrigger.MONITOR, state=job_state)
    assert state_frame(server.id)["crash"]["action"] == words


def test_the_state_frame_reads_its_times_and_job_in_utc_on_every_database(server):
    """Its reads are statements (servers/live.py): times come back aware, as the ORM gave them."""
    from jobs.models import Job, JobKind, JobState
    from servers.live import state_frame
    from servers.models import SupervisorBeat

    node = Node.objects.create(name="box-1")
    checked = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    Server.objects.filter(pk=server.pk).update(node=node, actual_state_checked_at=checked)
    beat = SupervisorBeat.objects.create(
        node_name="box-1", checked_at=checked + timedelta(seconds=90, microseconds=7)
    )
    crash = ServerCrash.objects.create(server=server, reason="segfault", detail="x", action="paused")
    Job.objects.create(server=server, kind=JobKind.UPDATE, state=JobState.SUCCEEDED)
    first = Job.objects.create(server=server, kind=JobKind.RESTART, state=JobState.RUNNING)
    Job.objects.create(server=server, kind=JobKind.STOP, state=JobState.QUEUED)
    frame = state_frame(server.id)
    assert frame["checked_at"] == beat.checked_at.isoformat() and frame["checked_at"].endswith("+00:00")
    assert frame["crash"]["at"] == ServerCrash.objects.get(pk=crash.pk).at.isoformat()
    assert frame["job"] == {"id": first.id, "kind": "restart", "state": "running"}


@pytest.mark.parametrize(
    "state, desired, disabled",
    [
        (
            ActualState.NOT_INSTALLED,
            "stopped",
            dict.fromkeys(("update", "start", "stop", "restart"), "Install it first."),
        ),
        (
            ActualState.RUNNING,
            "running",
            {"start": "It is already running.", "install": STOP_FIRST},
        ),
        (ActualState.STOPPED, "stopped", {"stop": "It is not running."}),
        (ActualState.CRASHED, "running", {}),
    ],
)
def test_actions_that_make_no_sense_are_disabled_and_say_why(owner_client, server, state, desired, disabled):
    Server.objects.filter(pk=server.pk).update(actual_state=state, desired_state=desired)
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    for kind in ("install", "update", "start", "stop", "restart"):
        why = disabled.get(kind)
        if why:
            assert f'disabled aria-describedby="why-{kind}"' in content
            assert f'<small class="why" id="why-{kind}">{why}</small>' in content
        else:
            assert f'aria-describedby="why-{kind}"' not in content


def test_htmx_gets_the_parts_it_refreshes(owner_client, server):
    headers = {"HX-Request": "true"}
    actions = owner_client.get(f"/servers/{server.id}", headers={**headers, "HX-Target": "server-actions"})
    assert actions.content.decode().lstrip().startswith('<div id="server-actions" class="server-actions">')
    jobs = owner_client.get(f"/servers/{server.id}", headers={**headers, "HX-Target": "recent-jobs"})
    assert jobs.content.decode().startswith('<div id="recent-jobs">')
    charts = owner_client.get(f"/servers/{server.id}", headers={**headers, "HX-Target": "server-charts"})
    assert 'id="server-charts"' in charts.content.decode() and "<html" not in charts.content.decode()


def test_outsiders_get_404_for_the_page_and_its_parts(other_client, server):
    for target in ("", "server-actions", "server-charts", "recent-jobs"):
        response = other_client.get(
            f"/servers/{server.id}", headers={"HX-Request": "true", "HX-Target": target}
        )
        assert response.status_code == 404


# --- the auto-restart switch ----------------------------------------------------------------


def switch(client, server, value="off", **headers):
    return client.post(f"/servers/{server.id}/auto-restart", {"auto_restart": value}, headers=headers)


def auto_restart_of(server):
    server.refresh_from_db()
    return server.auto_restart


def test_the_owner_turns_auto_restart_off_and_on(owner_client, server):
    response = owner_client.post(f"/servers/{server.id}/auto-restart", {"auto_restart": "off"})
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}"
    server.refresh_from_db()
    assert server.auto_restart is False
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "Off: a crashed server stays down until someone starts it." in page
    assert 'name="auto_restart" value="on"' in page
    owner_client.post(f"/servers/{server.id}/auto-restart", {"auto_restart": "on"})
    server.refresh_from_db()
    assert server.auto_restart is True


def test_htmx_switch_answers_with_the_switch(owner_client, server):
    response = owner_client.post(
        f"/servers/{server.id}/auto-restart", {"auto_restart": "off"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.content.decode().startswith('<form id="auto-restart"')
    assert "Turn on" in response.content.decode()


def test_staff_can_switch_any_server(staff_client, server):
    assert switch(staff_client, server).status_code == 302
    assert auto_restart_of(server) is False


def test_a_bad_switch_value_is_400_and_changes_nothing(owner_client, server):
    assert switch(owner_client, server, "maybe").status_code == 400
    assert auto_restart_of(server) is True


def test_outsider_switch_gets_404_and_changes_nothing(other_client, server):
    assert switch(other_client, server).status_code == 404
    assert auto_restart_of(server) is True


def test_anonymous_switch_is_redirected_to_login(anon_client, server):
    response = switch(anon_client, server)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert auto_restart_of(server) is True


def test_switch_with_get_is_405(owner_client, server):
    assert owner_client.get(f"/servers/{server.id}/auto-restart").status_code == 405


def test_switch_requires_a_csrf_token(owner, server):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/servers/{server.id}/auto-restart", {"auto_restart": "off"}).status_code == 403


def test_the_admin_edits_auto_restart_and_lists_crashes(staff_client, server):
    ServerCrash.objects.create(server=server, reason="host_error", detail="Host_Error: x", action="restarted")
    form = staff_client.get(f"/admin/servers/server/{server.id}/change/").content.decode()
    assert 'name="auto_restart"' in form
    crashes = staff_client.get("/admin/servers/servercrash/").content.decode()
    assert "Host_Error" in crashes


# --- the 24 h charts ---------------------------------------------------------------------------


def test_charts_draw_the_last_day_with_gaps_where_it_was_not_running(server):
    now = timezone.now()
    ServerSample.objects.bulk_create(
        [
            ServerSample(server=server, at=now - timedelta(minutes=m), players=3, cpu=50.0, memory=2**30)
            for m in range(0, 30)
        ]
        + [
            ServerSample(
                server=server, at=now - timedelta(hours=20, minutes=m), players=1, cpu=5.0, memory=2**29
            )
            for m in range(10)
        ]
        + [ServerSample(server=server, at=now - timedelta(days=2), players=8, cpu=100.0, memory=2**31)]
    )
    players, cpu, memory = history(server, now)
    assert len(players.lines) == 2  # two runs, a gap between them; the 2-day-old sample is out
    assert players.latest == "3" and cpu.latest == "50 %" and memory.latest == "1024 MB"
    xs = [float(point.split(",")[0]) for line in players.lines for point in line.split()]
    assert 0 <= min(xs) and max(xs) <= BUCKETS


def test_the_day_starts_exactly_24_hours_ago_to_the_microsecond(server):
    """The window's bounds are statement parameters (servers/charts.py): compared as SQLite's text
    and as PostgreSQL's timestamps alike, a sample on the edge is in, one a microsecond older out."""
    now = timezone.now().replace(microsecond=0)
    ServerSample.objects.create(server=server, at=now - timedelta(minutes=10), players=1, cpu=1.0, memory=1)
    edge = ServerSample.objects.create(server=server, at=now - SPAN, players=1, cpu=1.0, memory=1)
    assert history(server, now)[0].since == "24 h"  # the edge is the day's oldest sample
    ServerSample.objects.filter(pk=edge.pk).update(at=now - SPAN - timedelta(microseconds=1))
    assert history(server, now)[0].since == "15 min"  # out: ten minutes of history


def test_minutes_of_history_fill_a_shorter_window_instead_of_a_sliver_of_the_day(owner_client, server):
    now = timezone.now()
    ServerSample.objects.bulk_create(
        ServerSample(server=server, at=now - timedelta(seconds=30 * n), players=2, cpu=20.0, memory=2**28)
        for n in range(16)  # eight minutes, a sample every 30 s
    )
    players, _cpu, _memory = history(server, now)
    assert (players.since, players.width) == ("15 min", 15)
    assert len(players.lines) == 1  # no false gaps between samples
    xs = [float(point.split(",")[0]) for point in players.lines[0].split()]
    assert min(xs) <= players.width / 2  # from mid-chart on, not a few pixels at its edge
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert "<span>15 min ago</span>" in page and 'viewBox="0 0 15 60"' in page


def test_the_page_draws_the_charts_as_inline_svg(owner_client, server):
    ServerSample.objects.create(server=server, at=timezone.now(), players=2, cpu=12.5, memory=3 * 2**20)
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert content.count('<polyline class="chart-line"') == 3
    assert "No history yet" not in content


def test_without_samples_the_page_says_when_they_come(owner_client, server):
    assert (
        "No history yet: a sample is taken every 30 s"
        in owner_client.get(f"/servers/{server.id}").content.decode()
    )


# --- the server list ------------------------------------------------------------------------------


def test_the_list_shows_live_state_map_and_who_is_playing(owner_client, server):
    make_running(server)
    content = owner_client.get("/servers/").content.decode()
    assert f'<tr data-server-id="{server.id}">' in content
    assert '<td data-field="map">c2m1_highway</td>' in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;, Ellis" in content
    assert '<span class="badge s-running" data-field="state" title="Actual state">Running</span>' in content


def test_the_lists_first_paint_has_the_live_columns_its_stream_sends(owner, server, make_server):
    make_running(server)
    make_server(name="beta", port=27100)
    frame = list_frame(owner.pk, False)["servers"]
    page = [list_row(s) for s in Server.objects.visible_to(owner).select_related("node")]
    assert page == frame and sorted(row["map"] for row in page) == ["c1m1_hotel", "c2m1_highway"]


# --- WebSockets ------------------------------------------------------------------------------------


async def test_the_owner_follows_the_server_state_and_sees_changes(owner, server):
    await sync_to_async(make_running)(server)
    comm = await connect(f"/ws/servers/{server.id}/state", owner)
    first = await comm.receive_json_from(timeout=5)
    assert first["type"] == "state" and first["state"] == "running"
    assert (first["map"], first["player_count"], first["max_players"]) == ("c2m1_highway", 2, 8)
    assert [p["name"] for p in first["players"]] == [XSS, "Ellis"]
    assert first["paused"] == "" and first["crash"] is None and first["job"] is None
    await sync_to_async(make_running)(server, actual_state=ActualState.CRASHED)
    await sync_to_async(notify_server)(server.id)
    changed = await comm.receive_json_from(timeout=5)
    assert (changed["state"], changed["state_label"], changed["players"]) == ("crashed", "Crashed", [])
    await comm.disconnect()


async def test_staff_follow_any_server(staff, server):
    comm = await connect(f"/ws/servers/{server.id}/state", staff)
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"
    await comm.disconnect()


@pytest.mark.parametrize("who", ["other", "anonymous"])
async def test_outsiders_and_anonymous_are_refused_4403(who, other_owner, server):
    comm = await connect(f"/ws/servers/{server.id}/state", other_owner if who == "other" else None)
    await assert_refused(comm)


async def test_the_list_stream_carries_only_the_users_servers(owner, server, other_server):
    comm = await connect("/ws/servers/state", owner)
    frame = await comm.receive_json_from(timeout=5)
    assert [row["id"] for row in frame["servers"]] == [server.id]
    await comm.disconnect()


async def test_staff_list_stream_carries_every_server(staff, server, other_server):
    comm = await connect("/ws/servers/state", staff)
    frame = await comm.receive_json_from(timeout=5)
    assert {row["id"] for row in frame["servers"]} == {server.id, other_server.id}
    await comm.disconnect()


async def test_the_list_stream_refuses_anonymous(server):
    await assert_refused(await connect("/ws/servers/state"))
