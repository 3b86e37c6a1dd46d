"""The activity log (DESIGN.md §11): every state-changing action is an event with the right
actor, `via` and address; no secret in any detail; /servers/<id>/activity (permission,
filters, keyset pages, live over a WebSocket); the admin's filters; the daily prune."""

import json
import re
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

import activity
from activity import prune as activity_prune
from activity.models import Event
from api.models import ApiKey
from automation.models import Schedule, ScheduleAction, Webhook
from automation.scheduler import run_due
from hostctl.monitor import DEAD, ProcessCheck
from jobs.models import Job, JobState
from jobs.prune import PruneLoop
from l4d2site.asgi import application
from servers import crashes, permissions
from servers.models import ActualState, DesiredState, Server, ServerCrash, ServerMember
from servers.team.service import update_member

from .test_job_logs import session_cookie

pytestmark = pytest.mark.django_db

HOME = "198.51.100.10"
XSS = "<script>alert(1)</script>"


def member(server, user, *names):
    return ServerMember.objects.create(server=server, user=user, permissions=permissions.clean(names))


def client_of(user):
    client = Client(REMOTE_ADDR=HOME)
    client.force_login(user)
    return client


def actions():
    """The events of actions, oldest first (not the logins `force_login` leaves)."""
    return list(Event.objects.exclude(action__startswith="auth.").order_by("id"))


def only(action):
    [event] = Event.objects.filter(action=action)
    return event


def running(server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING, desired_state="running")
    server.refresh_from_db()
    return server


def no_secret_in_any_detail(*secrets):
    details = json.dumps(list(Event.objects.values_list("detail", flat=True)))
    for secret in secrets:
        assert secret not in details


# --- who did what, through what -------------------------------------------------------------


def test_a_failed_login_is_an_event_of_the_account_tried_from_the_web_with_the_address(owner):
    Client().post("/accounts/login/", {"username": "owner", "password": "wrong"}, REMOTE_ADDR=HOME)
    event = only("auth.login_failed")
    assert (event.actor, event.via, event.ip, event.detail) == (owner, "web", HOME, {"username": "owner"})
    no_secret_in_any_detail("wrong")


def test_a_console_command_posted_from_the_page_is_an_event_with_its_sender_text_and_address(owner, server):
    running(server)
    assert client_of(owner).post(f"/servers/{server.id}/console", {"command": "say hi"}).status_code == 302
    event = only("console.command")
    assert (event.actor, event.via, event.ip, event.server) == (owner, "web", HOME, server)
    assert event.detail["command"] == "say hi"


def test_a_refused_command_changes_nothing_and_is_no_event(owner, server):
    running(server)
    client_of(owner).post(f"/servers/{server.id}/console", {"command": f"say {server.rcon_password}"})
    assert not Event.objects.filter(action="console.command").exists()


def test_a_settings_change_names_the_changed_fields_and_values_but_never_a_password_or_the_cfg(owner, server):
    form = {
        "name": server.name,
        "map": server.map,
        "max_players": server.max_players,
        "sv_password": "letmein",
        "mp_gamemode": "versus",
        "z_difficulty": server.z_difficulty,
        "sv_region": server.sv_region,
        "sv_tags": server.sv_tags,
        "sv_steamgroup": server.sv_steamgroup,
        "motd_enabled": "on",
        "extra_cfg": 'sm_password "hunter2"',
    }
    client = client_of(owner)
    assert client.post(f"/servers/{server.id}/settings", form).status_code == 302
    event = only("settings.updated")
    assert (event.actor, event.via, event.ip) == (owner, "web", HOME)
    assert set(event.detail["fields"]) == {"sv_password", "mp_gamemode", "extra_cfg"}
    assert event.detail["values"] == {"mp_gamemode": "versus"}
    no_secret_in_any_detail("letmein", "hunter2")
    client.post(f"/servers/{server.id}/settings", form)  # saved again as it is: nothing changed
    assert Event.objects.filter(action="settings.updated").count() == 1


def test_revealing_and_rotating_the_rcon_password_are_events_without_the_password(owner, server):
    running(server)
    old = server.rcon_password
    client = client_of(owner)
    client.post(f"/servers/{server.id}/rcon/reveal")
    client.post(f"/servers/{server.id}/rcon/rotate", {"apply": "live"})
    new = Server.objects.get(pk=server.pk).rcon_password
    assert new != old
    assert [e.action for e in actions()] == [
        "rcon.revealed",
        "rcon.rotated",
        "console.command",
    ]
    assert {e.actor for e in actions()} == {owner}
    no_secret_in_any_detail(old, new)


def test_a_crash_restart_is_queued_by_the_panel_via_the_monitor_and_a_crash_loop_pauses_it(
    owner, server, sim_host
):
    Server.objects.filter(pk=server.pk).update(desired_state=DesiredState.RUNNING)
    crashes.record(server, ProcessCheck(DEAD, pid=4242, exit_status=-11), ["Segmentation fault"])
    event = only("job.enqueued")
    restart = Job.objects.get()
    assert (event.actor, event.via, event.ip, event.server) == (None, "monitor", None, server)
    assert event.detail["kind"] == "restart" and event.detail["job"] == restart.id
    assert "after a crash (Segmentation fault)" in event.summary and event.who == "the panel"

    Job.objects.update(state=JobState.SUCCEEDED)
    ServerCrash.objects.bulk_create(
        ServerCrash(server=server, at=timezone.now(), reason="unknown", detail="-", action="restarted")
        for _ in range(3)
    )
    crashes.record(server, ProcessCheck(DEAD, pid=4243, exit_status=-11), ["Segmentation fault"])
    paused = only("server.autorestart_paused")
    assert (paused.actor, paused.via) == (None, "monitor")
    assert Event.objects.filter(action="job.enqueued").count() == 1  # paused: nothing queued


def test_a_scheduled_job_and_a_scheduled_command_are_events_via_the_schedule(server):
    stop = Schedule(server=server, name="Nightly stop", cron="0 5 * * *", action=ScheduleAction.STOP)
    say = Schedule(server=server, cron="0 5 * * *", action=ScheduleAction.COMMAND, command="say bye")
    for schedule in (stop, say):
        schedule.reschedule()
        schedule.save()
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    running(server)
    run_due(None)
    queued, command = only("job.enqueued"), only("console.command")
    assert (queued.actor, queued.via, queued.detail["kind"], queued.detail["schedule"]) == (
        None,
        "schedule",
        "stop",
        "Nightly stop",
    )
    assert (command.actor, command.via, command.detail["command"]) == (None, "schedule", "say bye")


def test_jobs_queued_re_run_and_cancelled_from_the_pages_are_events_of_the_person(owner, server):
    client = client_of(owner)
    client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    job = Job.objects.get()
    client.post(f"/jobs/{job.id}/cancel")
    client.post(f"/jobs/{job.id}/retry")
    rerun = Job.objects.exclude(pk=job.pk).get()
    events = actions()
    assert [(e.action, e.actor, e.via, e.ip) for e in events] == [
        ("job.enqueued", owner, "web", HOME),
        ("job.cancelled", owner, "web", HOME),
        ("job.retried", owner, "web", HOME),
    ]
    assert events[1].detail["was"] == "queued" and events[2].detail["rerun_of"] == job.id
    assert events[2].link == f"/jobs/{rerun.id}"


def test_a_double_click_queues_one_job_and_one_event(owner, server):
    client = client_of(owner)
    client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    assert Event.objects.filter(action="job.enqueued").count() == 1


def test_auto_restart_and_the_update_policy_are_settings_events(owner, server):
    client = client_of(owner)
    client.post(f"/servers/{server.id}/auto-restart", {"auto_restart": "off"})
    client.post(f"/servers/{server.id}/update-policy", {"update_policy": "apply"})
    assert [(e.action, e.detail.get("auto_restart") or e.detail.get("update_policy")) for e in actions()] == [
        ("settings.auto_restart", "off"),
        ("settings.update_policy", "apply"),
    ]


def test_schedules_created_changed_switched_and_deleted_are_events(owner, server):
    client = client_of(owner)
    fields = {"name": "Nightly", "cron": "0 5 * * *", "timezone": "UTC", "action": "restart", "enabled": "on"}
    client.post(f"/servers/{server.id}/schedules", fields)
    schedule = Schedule.objects.get()
    client.post(f"/servers/{server.id}/schedules/{schedule.id}", {**fields, "cron": "0 6 * * *"})
    client.post(f"/servers/{server.id}/schedules/{schedule.id}/toggle")
    client.post(f"/servers/{server.id}/schedules/{schedule.id}/delete")
    events = actions()
    assert [e.action for e in events] == [
        "schedule.created",
        "schedule.updated",
        "schedule.disabled",
        "schedule.deleted",
    ]
    assert {(e.actor, e.server, e.detail["name"]) for e in events} == {(owner, server, "Nightly")}
    assert events[1].detail["fields"] == ["cron"] and events[1].detail["values"] == {"cron": "0 6 * * *"}


def test_webhook_events_keep_its_host_never_the_secret_path_of_its_url(owner, server):
    client = client_of(owner)
    url = "https://discord.com/api/webhooks/123/very-secret-token"
    fields = {"url": url, "events": ["job.failed"], "server": server.id, "enabled": "on"}
    client.post("/webhooks/", fields)
    hook = Webhook.objects.get()
    client.post(f"/webhooks/{hook.id}", {**fields, "url": url + "-rotated"})
    client.post(f"/webhooks/{hook.id}/test")
    client.post(f"/webhooks/{hook.id}/delete")
    events = actions()
    assert [e.action for e in events] == [
        "webhook.created",
        "webhook.updated",
        "webhook.tested",
        "webhook.deleted",
    ]
    assert {(e.actor, e.server, e.detail["host"]) for e in events} == {(owner, server, "discord.com")}
    assert events[1].detail["fields"] == ["url"] and events[1].detail["values"] == {}
    no_secret_in_any_detail("very-secret-token", "/api/webhooks/")


def test_actions_through_the_api_are_via_api_with_the_key_and_keep_no_secret(owner, server):
    key, secret = ApiKey.new(owner, "bot", sorted(permissions.ALL))
    api = Client(REMOTE_ADDR=HOME, HTTP_AUTHORIZATION=f"Bearer {secret}")
    base = f"/api/v1/servers/{server.id}"
    assert api.post(f"{base}/jobs", {"kind": "install"}, content_type="application/json").status_code == 201
    changes = {"sv_password": "letmein", "mp_gamemode": "versus"}
    assert api.patch(f"{base}/settings", changes, content_type="application/json").status_code == 200
    hook = {
        "url": "https://discord.com/api/webhooks/1/very-secret-token",
        "events": ["job.failed"],
        "server": server.id,
    }
    hook_id = api.post("/api/v1/webhooks", hook, content_type="application/json").json()["id"]
    assert api.delete(f"/api/v1/webhooks/{hook_id}").status_code == 204
    events = actions()
    assert [(e.action, e.actor, e.via, e.api_key, e.ip) for e in events] == [
        ("job.enqueued", owner, "api", key, HOME),
        ("settings.updated", owner, "api", key, HOME),
        ("webhook.created", owner, "api", key, HOME),
        ("webhook.deleted", owner, "api", key, HOME),
    ]
    assert (
        events[1].detail["fields"] == ["sv_password", "mp_gamemode"]
        and "sv_password" not in events[1].detail["values"]
    )
    no_secret_in_any_detail(secret, "letmein", "very-secret-token")


def test_the_browsers_own_session_on_the_api_is_via_api_too(owner, server):
    client = client_of(owner)
    client.post(f"/api/v1/servers/{server.id}/jobs", {"kind": "install"}, content_type="application/json")
    event = only("job.enqueued")
    assert (event.via, event.api_key, event.actor) == ("api", None, owner)


# --- /servers/<id>/activity ----------------------------------------------------------------


@pytest.mark.parametrize(
    "who, status",
    [("owner", 200), ("staff", 200), ("reader", 200), ("member", 403), ("outsider", 404)],
)
def test_the_page_is_for_those_holding_activity_read(who, status, owner, staff, other_owner, server):
    if who in ("reader", "member"):
        member(server, other_owner, *(["activity.read"] if who == "reader" else ["console.read"]))
    user = {"owner": owner, "staff": staff}.get(who, other_owner)
    response = client_of(user).get(f"/servers/{server.id}/activity")
    assert response.status_code == status
    if status == 403:
        assert "You may not see this server&#x27;s activity." in response.content.decode()


def test_anonymous_is_sent_to_log_in_and_other_methods_are_refused(anon_client, owner, server):
    assert anon_client.get(f"/servers/{server.id}/activity")["Location"].startswith("/accounts/login/")
    assert client_of(owner).post(f"/servers/{server.id}/activity").status_code == 405


def test_the_server_page_links_the_activity_only_for_those_who_may_read_it(owner, other_owner, server):
    link = f'href="/servers/{server.id}/activity"'
    assert link in client_of(owner).get(f"/servers/{server.id}").content.decode()
    membership = member(server, other_owner)
    assert link not in client_of(other_owner).get(f"/servers/{server.id}").content.decode()
    membership.permissions = permissions.clean(["activity.read"])
    membership.save()
    assert link in client_of(other_owner).get(f"/servers/{server.id}").content.decode()


def test_rows_say_who_did_what_through_what_from_where_newest_first_escaped(owner, server, other_server):
    activity.record("console.command", actor=owner, server=server, ip=HOME, detail={"command": f"say {XSS}"})
    activity.record("job.enqueued", via="monitor", server=server, detail={"kind": "restart", "job": 7})
    activity.record("console.command", actor=owner, server=other_server, detail={"command": "elsewhere"})
    page = client_of(owner).get(f"/servers/{server.id}/activity").content.decode()
    assert XSS not in page and "say &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "elsewhere" not in page
    assert page.index("Queued a job") < page.index("Sent a console command")  # newest first
    assert '<td class="c-who" data-label="by">the panel</td>' in page
    assert '<td class="c-via" data-label="via">Monitor</td>' in page
    assert '<a href="/jobs/7">Restart · job #7</a>' in page
    assert f'<td class="c-ip" data-label="from">{HOME}</td>' in page
    assert f'data-ws-path="/ws/servers/{server.id}/activity"' in page


def test_filters_by_person_and_by_action_exact_or_a_whole_group(owner, other_owner, server):
    member(server, other_owner, "activity.read")
    activity.record("job.enqueued", actor=owner, server=server, detail={"kind": "start", "job": 1})
    activity.record("job.cancelled", actor=other_owner, server=server, detail={"kind": "start", "job": 1})
    activity.record("console.command", actor=other_owner, server=server, detail={"command": "status"})
    client = client_of(owner)

    def shown(query):
        page = client.get(f"/servers/{server.id}/activity?{query}").content.decode()
        return re.findall(r'<td class="c-action">([^<]*)</td>', page)[::-1]  # oldest first

    assert shown("person=OTHER") == ["Cancelled a job", "Sent a console command"]
    assert shown("action=job.") == ["Queued a job", "Cancelled a job"]
    assert shown("action=job.cancelled") == ["Cancelled a job"]
    assert shown("person=other&action=job.") == ["Cancelled a job"]
    assert shown("person=nobody") == []
    assert (
        "No events match these filters."
        in client.get(f"/servers/{server.id}/activity?action=rcon.").content.decode()
    )


def test_keyset_pages_show_every_event_once_newest_first(owner, server):
    Event.objects.bulk_create(
        Event(action="console.command", actor=owner, server=server, detail={"command": f"say {n}"})
        for n in range(120)
    )
    client, seen, query = client_of(owner), [], ""
    while True:
        response = client.get(f"/servers/{server.id}/activity{query}")
        seen += [int(i) for i in _ids(response.content.decode())]
        older = response.context["page"].older
        if older is None:
            break
        query = f"?before={older}"
    assert seen == sorted(Event.objects.filter(server=server).values_list("id", flat=True), reverse=True)
    assert len(seen) == 120 and len(set(seen)) == 120
    # An older page does not follow live (new events belong on the first page).
    assert (
        "data-ws-path" not in client.get(f"/servers/{server.id}/activity?before={seen[0]}").content.decode()
    )


def _ids(page):
    return re.findall(r'<tr id="event-(\d+)"', page)


def test_the_page_costs_the_same_queries_for_a_few_events_or_a_full_page_by_many_people(
    owner, other_owner, server, django_user_model, django_assert_max_num_queries
):
    member(server, other_owner, "activity.read")
    people = [django_user_model.objects.create_user(f"player{n}") for n in range(10)]
    for person in people:
        member(server, person, "console.command")
    Event.objects.bulk_create(
        Event(action="job.enqueued", actor=people[n % 10], server=server, detail={"kind": "start", "job": n})
        for n in range(60)
    )
    client = client_of(other_owner)  # a member: their permissions are one more query
    # Session, user, server, membership, events with their people, the team for the person box
    # and its owner (read when a page shows them: servers.access.server_for_user).
    with django_assert_max_num_queries(7):
        response = client.get(f"/servers/{server.id}/activity")
    assert len(_ids(response.content.decode())) == 50


# --- live ----------------------------------------------------------------------------------


async def connect(path, user, *extra_headers):
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost"), *extra_headers]
    headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.mark.django_db(transaction=True)
async def test_a_new_event_reaches_an_open_activity_page_and_a_revoked_member_is_closed(
    owner, other_owner, server
):
    reader = await sync_to_async(member)(server, other_owner, "activity.read", "console.read")
    comm = await connect(f"/ws/servers/{server.id}/activity", other_owner)
    assert await comm.receive_json_from(timeout=5) == {"type": "state", "events": []}

    await sync_to_async(activity.record)(
        "console.command", actor=owner, server=server, ip=HOME, detail={"command": f"say {XSS}"}
    )
    frame = await comm.receive_json_from(timeout=5)
    [event] = frame["events"]
    assert (event["who"], event["actor"], event["via"], event["ip"]) == ("owner", "owner", "web", HOME)
    assert (event["action"], event["words"], event["summary"]) == (
        "console.command",
        "Sent a console command",
        f"say {XSS}",  # text: the page sets it with textContent
    )

    await sync_to_async(update_member)(owner, reader, ["console.read"])
    assert await closed_with(comm) == 4403


async def closed_with(comm):
    """The close code, after any frames sent before it (the member.updated event may come first)."""
    while True:
        output = await comm.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["member", "outsider"])
async def test_the_stream_refuses_members_without_activity_read_and_outsiders(who, other_owner, server):
    if who == "member":
        await sync_to_async(member)(server, other_owner, "console.read")
    comm = await connect(f"/ws/servers/{server.id}/activity", other_owner)
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db(transaction=True)
async def test_a_command_over_the_console_socket_is_an_event_and_a_sender_who_lost_the_right_is_refused(
    owner, other_owner, server, settings
):
    settings.PROXY_COUNT = 1  # one nginx in front, which says who the client is
    await sync_to_async(running)(server)
    sender = await sync_to_async(member)(server, other_owner, "console.read", "console.command")
    comm = await connect(f"/ws/servers/{server.id}/console", other_owner, (b"x-forwarded-for", HOME.encode()))
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"
    await comm.send_json_to({"type": "command", "command": "status"})
    assert (await comm.receive_json_from(timeout=5))["type"] == "command"
    event = await sync_to_async(only)("console.command")
    assert (event.actor_id, event.via, event.ip, event.detail["command"]) == (
        other_owner.id,
        "web",
        HOME,
        "status",
    )

    await sync_to_async(update_member)(owner, sender, ["console.read"])  # may watch, no longer send
    await comm.send_json_to({"type": "command", "command": "status"})
    refused = await comm.receive_json_from(timeout=5)
    assert refused == {
        "type": "error",
        "error": "You may not send commands to this server's console.",
        "status": 403,
    }
    await comm.disconnect()


# --- staff: the admin ------------------------------------------------------------------------


def test_staff_filter_the_admin_by_action_group_via_and_server_and_search_by_server(
    staff_client, owner, server, other_server
):
    activity.record(
        "job.enqueued", actor=owner, server=server, ip="192.0.2.1", detail={"kind": "start", "job": 1}
    )
    activity.record(
        "job.enqueued",
        via="monitor",
        server=other_server,
        ip="192.0.2.2",
        detail={"kind": "restart", "job": 2},
    )
    activity.record(
        "console.command", actor=owner, server=server, ip="192.0.2.3", detail={"command": "status"}
    )

    def listed(query):
        page = staff_client.get(f"/admin/activity/event/?{query}").content.decode()
        return sorted(ip for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3") if ip in page)

    assert listed("action=job.") == ["192.0.2.1", "192.0.2.2"]
    assert listed("action=console.command") == ["192.0.2.3"]
    assert listed("via__exact=monitor") == ["192.0.2.2"]
    assert listed(f"server__id__exact={server.id}") == ["192.0.2.1", "192.0.2.3"]
    other_server.delete()  # its events keep its name, and are still found by it
    assert listed("q=Other") == ["192.0.2.2"]


# --- pruning -----------------------------------------------------------------------------------


def test_the_daily_prune_deletes_only_events_older_than_the_setting(settings, owner, server):
    settings.L4D2_PRUNE_JOBS_DAYS = None  # the activity is pruned whether jobs are or not
    settings.L4D2_ACTIVITY_KEEP_DAYS = 90
    now = timezone.now()
    for days in (200, 91, 89, 0):
        event = activity.record(
            "console.command", actor=owner, server=server, detail={"command": f"{days} days"}
        )
        Event.objects.filter(pk=event.pk).update(at=now - timedelta(days=days))
    PruneLoop(identity="test", node_name=None).run_once()
    assert sorted(Event.objects.values_list("detail__command", flat=True)) == ["0 days", "89 days"]


def test_events_are_pruned_in_batches(owner, monkeypatch):
    Event.objects.bulk_create(
        Event(action="auth.login", actor=owner, at=timezone.now() - timedelta(days=100)) for _ in range(5)
    )
    batches = []
    delete = activity_prune._delete.__wrapped__
    monkeypatch.setattr(activity_prune, "_delete", lambda ids: batches.append(len(ids)) or delete(ids))
    assert activity_prune.prune(90, batch=2, pause=0) == 5
    assert batches == [2, 2, 1] and not Event.objects.exists()


def test_the_keep_days_setting_defaults_to_90(settings):
    assert settings.L4D2_ACTIVITY_KEEP_DAYS == 90
