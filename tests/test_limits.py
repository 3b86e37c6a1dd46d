"""Caps on schedules and webhooks per server (and per person for all-servers webhooks).

Security review, issue "Hardening", F9: 300 every-minute console schedules sent 300
commands a minute; 200 webhooks on one server made 200 deliveries per event.
"""

import threading
import time
from html import unescape

import pytest
from django.db import connection
from django.test import Client

from automation import limits
from automation.models import Schedule, Webhook, WebhookEvent

pytestmark = pytest.mark.django_db

SCHEDULE = {
    "cron": "*/5 * * * *",
    "timezone": "UTC",
    "action": "command",
    "command": "say hi",
    "enabled": "on",
}
URL = "https://hooks.example.org/l4d2"
WEBHOOK = {"url": URL, "events": [WebhookEvent.JOB_FAILED]}


def schedules(server, count):
    Schedule.objects.bulk_create(Schedule(server=server, cron=f"{n % 60} * * * *") for n in range(count))


def webhooks(owner, server, count):
    Webhook.objects.bulk_create(
        Webhook(owner=owner, server=server, url=URL, events=["job.failed"]) for _ in range(count)
    )


def page(response):
    return unescape(response.content.decode())


# --- schedules -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "staff_client"])
def test_the_21st_schedule_of_a_server_is_refused_with_the_limit_and_what_to_do(request, server, who):
    schedules(server, 20)
    response = request.getfixturevalue(who).post(f"/servers/{server.id}/schedules", SCHEDULE)
    assert response.status_code == 400  # staff too: the cap protects the server
    assert "This server already has 20 schedules, the most one server may have. Delete one" in page(response)
    assert server.schedules.count() == 20


def test_the_schedule_cap_is_a_setting_and_counts_each_server_apart(
    owner_client, server, make_server, settings
):
    settings.MAX_SCHEDULES_PER_SERVER = 2
    schedules(server, 1)
    assert owner_client.post(f"/servers/{server.id}/schedules", SCHEDULE).status_code == 302
    assert "already has 2 schedules" in page(owner_client.post(f"/servers/{server.id}/schedules", SCHEDULE))
    other = make_server(name="Second")
    assert owner_client.post(f"/servers/{other.id}/schedules", SCHEDULE).status_code == 302


def test_a_full_server_still_lets_its_schedules_be_edited(owner_client, server, settings):
    settings.MAX_SCHEDULES_PER_SERVER = 2
    schedules(server, 3)  # more than the cap, e.g. from before it was lowered
    schedule = server.schedules.first()
    response = owner_client.post(
        f"/servers/{server.id}/schedules/{schedule.id}", {**SCHEDULE, "command": "say bye"}
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.command == "say bye"


def test_the_admin_refuses_a_schedule_over_the_cap_added_or_moved_there(
    staff_client, server, make_server, settings
):
    settings.MAX_SCHEDULES_PER_SERVER = 2
    schedules(server, 2)
    form = {
        "cron": "0 4 * * *",
        "timezone": "UTC",
        "action": "update",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
    }
    response = staff_client.post("/admin/automation/schedule/add/", {**form, "server": server.id})
    assert response.status_code == 200 and "This server already has 2 schedules" in page(response)
    elsewhere = Schedule.objects.create(server=make_server(name="Second"), cron="0 4 * * *")
    response = staff_client.post(
        f"/admin/automation/schedule/{elsewhere.id}/change/", {**form, "server": server.id}
    )
    assert response.status_code == 200 and "This server already has 2 schedules" in page(response)
    assert server.schedules.count() == 2


@pytest.mark.django_db(transaction=True)
def test_schedules_created_at_the_same_moment_never_exceed_the_cap(owner, server, settings, monkeypatch):
    settings.MAX_SCHEDULES_PER_SERVER = 3
    schedules(server, 2)
    counted = limits._taken

    def slow_count(rows):
        # Every request counts, then waits: without the lock they would all see 2 and all insert.
        taken = counted(rows)
        time.sleep(0.3)
        return taken

    monkeypatch.setattr(limits, "_taken", slow_count)
    clients = []
    for _ in range(4):
        client = Client()
        client.force_login(owner)
        clients.append(client)
    start, statuses = threading.Barrier(len(clients)), []

    def create(client):
        try:
            start.wait()
            statuses.append(client.post(f"/servers/{server.id}/schedules", SCHEDULE).status_code)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=create, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [302, 400, 400, 400]
    assert Schedule.objects.filter(server=server).count() == 3


# --- webhooks --------------------------------------------------------------------------


def test_the_11th_webhook_of_a_server_is_refused_with_the_limit_and_what_to_do(
    owner_client, owner, server, make_server
):
    webhooks(owner, server, 10)
    response = owner_client.post("/webhooks/", {**WEBHOOK, "server": server.id})
    assert response.status_code == 400
    assert f"{server.name} already has 10 webhooks, the most one server may have. Delete one" in page(
        response
    )
    assert Webhook.objects.filter(server=server).count() == 10
    assert (
        owner_client.post("/webhooks/", {**WEBHOOK, "server": make_server(name="Second").id}).status_code
        == 302
    )


def test_a_webhook_cannot_be_moved_onto_a_full_server(owner_client, owner, server, make_server):
    webhooks(owner, server, 10)
    elsewhere = Webhook.objects.create(
        owner=owner, server=make_server(name="Second"), url=URL, events=["job.failed"]
    )
    response = owner_client.post(
        f"/webhooks/{elsewhere.id}", {**WEBHOOK, "server": server.id, "enabled": "on"}
    )
    assert response.status_code == 400 and "already has 10 webhooks" in page(response)
    elsewhere.refresh_from_db()
    assert elsewhere.server.name == "Second"


def test_a_previous_owners_webhooks_take_no_place_on_the_server(owner_client, owner, other_owner, server):
    webhooks(other_owner, server, 10)  # they owned it once; their webhooks hear it no more
    assert owner_client.post("/webhooks/", {**WEBHOOK, "server": server.id}).status_code == 302


def test_staff_have_10_webhooks_for_all_servers_each(staff_client, staff, django_user_model):
    webhooks(staff, None, 10)
    response = staff_client.post("/webhooks/", WEBHOOK)
    assert response.status_code == 400
    assert "staff already has 10 webhooks for all servers, the most one person may have" in page(response)
    colleague = django_user_model.objects.create_user("colleague", is_staff=True)
    client = Client()
    client.force_login(colleague)
    assert client.post("/webhooks/", WEBHOOK).status_code == 302


def test_the_admin_refuses_a_webhook_over_the_cap(staff_client, owner, server):
    webhooks(owner, server, 10)
    response = staff_client.post(
        "/admin/automation/webhook/add/",
        {"owner": owner.id, "server": server.id, "url": URL, "events": '["job.failed"]', "enabled": "on"},
    )
    assert response.status_code == 200 and f"{server.name} already has 10 webhooks" in page(response)
    assert Webhook.objects.count() == 10
