"""Schedules: the page, the scheduler (due, missed, raced runs), each run a job linked from its history."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from automation.models import Schedule, ScheduleAction, ScheduleRun
from automation.scheduler import run_due
from jobs.models import Job, JobKind, JobState, JobTrigger
from servers.models import ActualState, ConsoleCommand, ConsoleLine, DesiredState, Node, Server

from .console_lines import STOPS_IN_DISGUISE
from .processes import free_game_port, running, start_worker, wait_until

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def schedule_for(server, **fields):
    fields = {"cron": "0 5 * * *", "timezone": "Europe/Berlin", "action": ScheduleAction.STOP, **fields}
    schedule = Schedule(server=server, **fields)
    schedule.reschedule()
    schedule.save()
    return schedule


def make_due(schedule, ago=timedelta(seconds=1)):
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - ago)
    schedule.refresh_from_db()
    return schedule


# --- the page ------------------------------------------------------------------------


def test_owner_creates_a_nightly_restart_and_sees_its_description_and_next_run(owner_client, owner, server):
    response = owner_client.post(
        f"/servers/{server.id}/schedules",
        {
            "name": "Nightly restart",
            "cron": "0  5 * * *",
            "timezone": "Europe/Berlin",
            "action": "restart",
            "enabled": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}/schedules"
    schedule = Schedule.objects.get()
    assert (schedule.server, schedule.created_by, schedule.cron) == (server, owner, "0 5 * * *")
    local = schedule.next_run_at.astimezone(BERLIN)
    assert (local.hour, local.minute) == (5, 0)
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(days=1)
    page = owner_client.get(response["Location"]).content.decode()
    assert "At 05:00 AM" in page and "Nightly restart" in page
    assert f'datetime="{schedule.next_run_at.isoformat()}"' in page
    assert local.strftime("%Y-%m-%d 05:00 CE") in page  # the exact time, in the schedule's zone


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"cron": "0 5 * *"}, "Use five fields"),
        ({"cron": "0 0 5 * * *"}, "Use five fields"),
        ({"cron": "61 5 * * *"}, "not a valid cron expression"),
        ({"timezone": "Mars/Olympus"}, "“Mars/Olympus” is not a time zone of a place"),
        ({"timezone": "Factory"}, "“Factory” is not a time zone of a place"),
        ({"timezone": "Etc/GMT+5"}, "“Etc/GMT+5” is not a time zone of a place"),
        ({"action": "command", "command": ""}, "Type the console command"),
        ({"action": "command", "command": "say a\nquit"}, "one line, without control characters"),
        ({"action": "command", "command": "say " + "é" * 300}, "at most 512 bytes; this one is 604"),
        ({"action": "command", "command": "rcon_password hunter2"}, "never typed here"),
        ({"action": "command", "command": "quit"}, "Use the Stop and Restart buttons"),
        *(({"action": "command", "command": line}, reason) for line, reason in STOPS_IN_DISGUISE),
    ],
)
def test_bad_schedules_are_refused_with_the_reason(owner_client, server, fields, message):
    data = {"cron": "0 5 * * *", "timezone": "UTC", "action": "restart", **fields}
    response = owner_client.post(f"/servers/{server.id}/schedules", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Schedule.objects.exists()


def test_editing_a_schedule_moves_its_next_run(owner_client, server):
    schedule = schedule_for(server)
    url = f"/servers/{server.id}/schedules/{schedule.id}"
    data = {
        "cron": "30 23 * * 1",
        "timezone": "UTC",
        "action": "command",
        "command": "say bye",
        "enabled": "on",
    }
    assert owner_client.post(url, data).status_code == 302
    schedule.refresh_from_db()
    assert schedule.command == "say bye"
    assert schedule.next_run_at.weekday() == 0 and (
        schedule.next_run_at.hour,
        schedule.next_run_at.minute,
    ) == (23, 30)
    assert "At 11:30 PM, only on Monday" in owner_client.get(url).content.decode()


def test_disabling_stops_and_enabling_starts_from_the_next_slot(owner_client, server):
    schedule = make_due(schedule_for(server), ago=timedelta(days=2))
    url = f"/servers/{server.id}/schedules/{schedule.id}/toggle"
    owner_client.post(url)
    schedule.refresh_from_db()
    assert not schedule.enabled and schedule.next_run_at is None
    owner_client.post(url)
    schedule.refresh_from_db()
    assert schedule.enabled and schedule.next_run_at > timezone.now()  # no catching up on what it missed


def test_owner_deletes_a_schedule(owner_client, server):
    schedule = schedule_for(server)
    response = owner_client.post(f"/servers/{server.id}/schedules/{schedule.id}/delete")
    assert response.status_code == 302 and not Schedule.objects.exists()


def test_outsider_gets_404_everywhere(other_client, server):
    schedule = schedule_for(server)
    base = f"/servers/{server.id}/schedules"
    assert other_client.get(base).status_code == 404
    assert (
        other_client.post(base, {"cron": "* * * * *", "timezone": "UTC", "action": "stop"}).status_code == 404
    )
    for suffix in ("", "/toggle", "/delete"):
        assert other_client.post(f"{base}/{schedule.id}{suffix}").status_code == 404
    assert Schedule.objects.get().enabled


def test_a_schedule_is_only_reached_through_its_own_server(owner_client, server, make_server):
    mine_too = make_server(name="Second")
    schedule = schedule_for(server)
    assert owner_client.get(f"/servers/{mine_too.id}/schedules/{schedule.id}").status_code == 404


def test_anonymous_is_sent_to_log_in(anon_client, server):
    response = anon_client.get(f"/servers/{server.id}/schedules")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_wrong_methods_are_405(owner_client, server):
    schedule = schedule_for(server)
    assert owner_client.put(f"/servers/{server.id}/schedules").status_code == 405
    assert owner_client.get(f"/servers/{server.id}/schedules/{schedule.id}/toggle").status_code == 405
    assert owner_client.get(f"/servers/{server.id}/schedules/{schedule.id}/delete").status_code == 405


def test_creating_a_schedule_requires_a_csrf_token(owner, server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    data = {"cron": "0 5 * * *", "timezone": "UTC", "action": "restart"}
    assert client.post(f"/servers/{server.id}/schedules", data).status_code == 403


def test_staff_manage_anyones_schedules_and_in_the_admin(staff_client, server):
    assert staff_client.get(f"/servers/{server.id}/schedules").status_code == 200
    response = staff_client.post(
        "/admin/automation/schedule/add/",
        {
            **{
                "server": server.id,
                "cron": "0 4 * * *",
                "timezone": "UTC",
                "action": "update",
                "enabled": "on",
            },
            **{"runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0"},  # the run history inline
        },
    )
    assert response.status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.next_run_at.hour == 4 and schedule.next_run_at > timezone.now()
    assert "0 4 * * *" in staff_client.get("/admin/automation/schedule/").content.decode()


def test_the_schedules_page_costs_the_same_queries_for_1_or_30_schedules(
    owner_client, server, django_assert_max_num_queries
):
    schedule_for(server)
    with django_assert_max_num_queries(8) as one:
        owner_client.get(f"/servers/{server.id}/schedules")
    for hour in range(29):
        schedule_for(server, cron=f"0 {hour % 24} * * *")
    with django_assert_max_num_queries(len(one.captured_queries)):
        owner_client.get(f"/servers/{server.id}/schedules")


def test_the_server_page_links_its_schedules(owner_client, server):
    schedule_for(server)
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'href="/servers/{server.id}/schedules"' in page and "1 active schedule" in page


# --- the scheduler ------------------------------------------------------------------------


def test_a_due_schedule_runs_once_as_a_job_linked_from_its_history(owner_client, server):
    schedule = make_due(schedule_for(server))
    due_at = schedule.next_run_at
    [run] = run_due(None)
    assert run_due(None) == []  # not twice
    job = run.job
    assert (job.kind, job.trigger, job.requested_by, job.server) == (
        JobKind.STOP,
        JobTrigger.SCHEDULE,
        None,
        server,
    )
    assert run.due_at == due_at and run.outcome == f"Queued as job #{job.id}."
    schedule.refresh_from_db()
    assert schedule.next_run_at > timezone.now() and schedule.last_run_at
    page = owner_client.get(f"/servers/{server.id}/schedules/{schedule.id}").content.decode()
    assert f'<a href="/jobs/{job.id}">#{job.id}</a>' in page


def test_a_run_missed_for_days_runs_once_and_moves_to_the_next_future_slot(server):
    schedule = make_due(schedule_for(server), ago=timedelta(days=3, hours=2))
    assert len(run_due(None)) == 1
    schedule.refresh_from_db()
    now = timezone.now()
    assert now < schedule.next_run_at <= now + timedelta(days=1)
    assert Job.objects.count() == 1


def test_a_nightly_restart_leaves_a_server_its_owner_stopped_alone(server):
    server.desired_state = DesiredState.STOPPED
    server.save()
    make_due(schedule_for(server, action=ScheduleAction.RESTART))
    [run] = run_due(None)
    assert run.job is None and "meant to be stopped" in run.outcome
    assert not Job.objects.exists()


def test_a_console_command_for_a_server_that_is_not_running_is_not_sent(server):
    make_due(schedule_for(server, action=ScheduleAction.COMMAND, command="say hi"))
    [run] = run_due(None)
    assert run.outcome.startswith("Not sent: The server is unknown") and run.job is None
    assert not ConsoleCommand.objects.exists()


@pytest.mark.parametrize(("line", "reason"), STOPS_IN_DISGUISE)
def test_a_stop_in_disguise_saved_before_the_check_knew_it_is_not_sent_when_it_runs(server, line, reason):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    schedule = make_due(schedule_for(server, action=ScheduleAction.COMMAND, command="say hi"))
    Schedule.objects.filter(pk=schedule.pk).update(command=line)  # a row older than the check
    [run] = run_due(None)
    assert run.outcome == f"Not sent: {reason}" and run.job is None
    assert not ConsoleCommand.objects.exists()


def test_disabled_schedules_and_other_nodes_schedules_do_not_run(server, make_server):
    make_due(schedule_for(server, enabled=False))
    east = make_server(node=Node.objects.create(name="east"))
    on_east = make_due(schedule_for(east))
    assert run_due(None) == []
    assert [run.schedule for run in run_due("east")] == [on_east]


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_racing_for_one_due_run_make_exactly_one(server):
    schedule = make_due(schedule_for(server))
    start = threading.Barrier(2)
    found = []

    def scheduler():
        from django.db import connection

        try:
            start.wait()
            found.append(run_due(None))
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(len(runs) for runs in found) == [0, 1]
    assert ScheduleRun.objects.filter(schedule=schedule).count() == 1 and Job.objects.count() == 1


def test_the_next_run_follows_the_schedules_time_zone_across_daylight_saving(server):
    schedule = schedule_for(server, cron="30 2 * * *")
    # 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00).
    before = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    first = schedule.next_after(before)
    second = schedule.next_after(first)
    assert first == datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)
    assert second == datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)


# --- with real workers -----------------------------------------------------------------------


def first_pass_done(log_path):
    return "scheduler: first pass done" in log_path.read_text(errors="replace")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_schedule_due_now_runs_exactly_once_with_two_workers(server, tmp_path):
    schedule = make_due(schedule_for(server))
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [start_worker("--poll", "0.1", log_path=log, HOSTCTL_ROOT=tmp_path / "servers") for log in logs]
    with running(workers[0]), running(workers[1]):
        # Once both have made a pass, both have seen the schedule due (or already moved on).
        wait_until(lambda: all(first_pass_done(log) for log in logs), timeout=60)
        [run] = ScheduleRun.objects.filter(schedule=schedule)
        wait_until(lambda: Job.objects.get(pk=run.job_id).is_finished, timeout=60)
    assert Job.objects.count() == 1
    assert Job.objects.get().state == JobState.SUCCEEDED
    assert sum(f"schedule {schedule.pk} of server" in log.read_text() for log in logs) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_missed_while_the_panel_was_down_runs_once_when_a_worker_comes_back(server, tmp_path):
    schedule = make_due(schedule_for(server), ago=timedelta(days=3, hours=1))  # three nightly slots missed
    log = tmp_path / "w.log"
    with running(start_worker("--poll", "0.1", log_path=log, HOSTCTL_ROOT=tmp_path / "servers")):
        wait_until(lambda: first_pass_done(log), timeout=60)
        [run] = ScheduleRun.objects.filter(schedule=schedule)
        wait_until(lambda: Job.objects.get(pk=run.job_id).is_finished, timeout=60)
    schedule.refresh_from_db()
    assert timezone.now() < schedule.next_run_at <= timezone.now() + timedelta(days=1)
    assert "ran late (its slot was missed)" in log.read_text()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_console_command_reaches_the_running_server(owner, make_server, tmp_path):
    server = make_server(port=free_game_port())
    root = tmp_path / "servers"
    with running(start_worker("--poll", "0.1", log_path=tmp_path / "w.log", HOSTCTL_ROOT=root)):
        for kind in (JobKind.INSTALL, JobKind.START):
            job = Job.enqueue(server, kind, owner)
            wait_until(lambda job=job: Job.objects.get(pk=job.pk).state == JobState.SUCCEEDED, timeout=60)
        schedule = make_due(
            schedule_for(server, action=ScheduleAction.COMMAND, command="say From a schedule")
        )
        console = root / str(server.id) / "console.log"
        wait_until(lambda: "Console: From a schedule" in console.read_text(), timeout=30)
        [run] = ScheduleRun.objects.filter(schedule=schedule)
        assert run.outcome == "Sent to the console: say From a schedule"
        # The way a typed command goes: in the audit trail, sent by the panel, in the console.
        command = ConsoleCommand.objects.get(server=server)
        assert command.user is None and command.outcome == "delivered"
        assert ConsoleLine.objects.filter(
            server=server, stream="command", line__contains="say From a schedule"
        )
        stop = Job.enqueue(server, JobKind.STOP, owner)
        wait_until(lambda: Job.objects.get(pk=stop.pk).is_finished, timeout=60)


# --- presets' helpers: the list of zones, the preview while typing, Run now ------------------------


def test_the_form_offers_the_zones_of_places_only(owner_client, server):
    page = owner_client.get(f"/servers/{server.id}/schedules").content.decode()
    zones = page.split('<datalist id="time-zones">')[1].split("</datalist>")[0]
    for name in ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"):
        assert f'<option value="{name}">' in zones
    for junk in ("Factory", "localtime", "posixrules", "Etc/GMT+5", "US/Eastern", "EST5EDT"):
        assert f'<option value="{junk}">' not in zones
    assert 'list="time-zones"' in page and "schedules.js" in page


def test_a_zone_saved_before_the_list_narrowed_stays_when_the_schedule_is_edited(owner_client, server):
    schedule = schedule_for(server, timezone="US/Eastern")
    data = {"cron": "0 6 * * *", "timezone": "US/Eastern", "action": "stop", "enabled": "on"}
    assert owner_client.post(f"/servers/{server.id}/schedules/{schedule.id}", data).status_code == 302
    assert Schedule.objects.get(pk=schedule.pk).cron == "0 6 * * *"


def preview(client, server, **query):
    return client.get(f"/servers/{server.id}/schedules/preview", query)


def test_the_preview_says_the_expression_in_words_and_its_next_three_runs_in_the_zone(owner_client, server):
    answer = preview(owner_client, server, cron="0  5 * * 1", timezone="America/New_York")
    assert answer.status_code == 200
    data = answer.json()
    assert data["description"] == "At 05:00 AM, only on Monday" and data["timezone"] == "America/New_York"
    assert len(data["next"]) == 3
    runs = [datetime.fromisoformat(run["at"]) for run in data["next"]]
    assert all(run.weekday() == 0 and (run.hour, run.minute) == (5, 0) for run in runs)
    assert [(b - a).days for a, b in zip(runs, runs[1:], strict=False)] == [7, 7]
    new_york = runs[0].astimezone(ZoneInfo("America/New_York"))
    assert data["next"][0]["text"] == new_york.strftime("%a %Y-%m-%d 05:00 %Z")  # EST or EDT
    assert runs[0] > timezone.now()


@pytest.mark.parametrize(
    "query, message",
    [
        ({"cron": "0 5 * *", "timezone": "UTC"}, "Use five fields"),
        ({"cron": "61 5 * * *", "timezone": "UTC"}, "not a valid cron expression"),
        ({"cron": "0 5 * * *", "timezone": "Mars/Olympus"}, "is not a known time zone"),
    ],
)
def test_a_preview_of_bad_input_answers_400_with_the_reason(owner_client, server, query, message):
    answer = preview(owner_client, server, **query)
    assert answer.status_code == 400 and message in answer.json()["detail"]


def test_the_preview_is_for_members_who_may_read_schedules(other_client, anon_client, server):
    assert preview(other_client, server, cron="0 5 * * *").status_code == 404
    assert preview(anon_client, server, cron="0 5 * * *").status_code == 302


def test_run_now_queues_the_action_once_as_the_person_and_keeps_the_slots(owner_client, owner, server):
    from activity.models import Event

    Server.objects.filter(pk=server.pk).update(
        actual_state=ActualState.RUNNING, desired_state=DesiredState.RUNNING
    )
    schedule = schedule_for(server, action=ScheduleAction.RESTART, name="Nightly")
    next_run = schedule.next_run_at
    response = owner_client.post(f"/servers/{server.id}/schedules/{schedule.id}/run")
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}"
    assert (job.kind, job.requested_by, job.trigger) == (JobKind.RESTART, owner, JobTrigger.USER)
    run = ScheduleRun.objects.get()
    assert run.job == job and run.outcome == f"Queued as job #{job.id}."
    assert Schedule.objects.get(pk=schedule.pk).next_run_at == next_run
    event = Event.objects.get(action="schedule.run")
    assert event.actor == owner and event.detail["outcome"] == f"Queued as job #{job.id}."


def test_run_now_of_a_console_command_sends_it_and_shows_the_console(owner_client, owner, server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    schedule = schedule_for(server, action=ScheduleAction.COMMAND, command="say hello")
    response = owner_client.post(f"/servers/{server.id}/schedules/{schedule.id}/run")
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}/console"
    assert ConsoleCommand.objects.get().user == owner


def test_run_now_follows_the_buttons_rules_and_needs_schedules_update(
    owner_client, server, other_client, django_user_model
):
    from servers import permissions
    from servers.models import ServerMember

    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    schedule = schedule_for(server, action=ScheduleAction.START)
    url = f"/servers/{server.id}/schedules/{schedule.id}/run"
    refused = owner_client.post(url)
    assert refused.status_code == 409 and "It is already running." in refused.content.decode()
    reader = django_user_model.objects.create_user("reader", password="pw")
    ServerMember.objects.create(server=server, user=reader, permissions=permissions.clean(["schedules.read"]))
    client = Client()
    client.force_login(reader)
    assert "Run now" not in client.get(f"/servers/{server.id}/schedules").content.decode()
    assert client.post(url).status_code == 403
    assert other_client.post(url).status_code == 404
    assert owner_client.get(url).status_code == 405
    assert not Job.objects.exists() and not ScheduleRun.objects.exists()
