"""Webhooks: events become deliveries the worker sends with retries; Discord format; no private addresses."""

import json
import socket
import threading

import pytest
from django.test import Client

from automation.models import Delivery, DeliveryState, Webhook, WebhookEvent
from automation.webhooks import net, payload, sender
from jobs.models import Job, JobKind, JobState
from servers import events

from .processes import running, start_worker, wait_until
from .webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

DISCORD = "https://discord.com/api/webhooks/123456789012345678/abcdefTOKEN"


def hook(owner, server, url="https://hooks.example.org/l4d2", events=(WebhookEvent.JOB_FAILED,), **fields):
    return Webhook.objects.create(owner=owner, server=server, url=url, events=list(events), **fields)


def failed(job):
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, exit_code=1)
    job.refresh_from_db()
    return job


def send_all():
    """What the worker's sender loop does in one pass, in this process."""
    for delivery in Delivery.objects.due():
        if Delivery.objects.claim(delivery.pk):
            sender.send(delivery.pk)


# --- events become deliveries ----------------------------------------------------------


def test_a_job_failed_event_becomes_one_delivery_per_listening_webhook(
    owner, other_owner, staff, server, job
):
    mine = hook(owner, server)
    hook(owner, server, events=[WebhookEvent.JOB_SUCCEEDED])  # another event
    hook(other_owner, None)  # "all servers" is for staff only
    everywhere = hook(staff, None)
    hook(owner, server, enabled=False)
    events.emit("job.failed", server, "Install of it failed (job #1).", job=failed(job))
    assert sorted(d.webhook_id for d in Delivery.objects.all()) == [mine.id, everywhere.id]


def test_a_webhook_hears_nothing_once_its_owner_no_longer_owns_the_server(owner, other_owner, server, job):
    hook(owner, server)
    server.owner = other_owner
    server.save()
    events.emit("job.failed", server, "failed", job=job)
    assert not Delivery.objects.exists()


def test_the_json_body_carries_event_server_job_and_text(owner, server, job, settings):
    settings.PANEL_URL = "https://panel.example.org"
    hook(owner, server)
    events.emit("job.failed", server, "Install of it failed (job #1).", job=failed(job))
    body = Delivery.objects.get().payload
    assert body["event"] == "job.failed" and body["text"] == "Install of it failed (job #1)."
    assert body["server"] == {
        "id": server.id,
        "name": server.name,
        "url": f"https://panel.example.org/servers/{server.id}",
    }
    assert body["job"] == {
        "id": job.id,
        "kind": "install",
        "state": "failed",
        "url": f"https://panel.example.org/jobs/{job.id}",
    }


def test_a_failing_listener_never_reaches_the_job_that_emitted(owner, server, job, monkeypatch):
    hook(owner, server)

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(Delivery.objects, "bulk_create", broken)
    job = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    assert job.finish(1, cancelled=False, say=lambda text: None) == JobState.FAILED


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, discord",
    [
        (DISCORD, True),
        ("https://discordapp.com/api/webhooks/1/x", True),
        ("https://canary.discord.com/api/webhooks/1/x", True),
        ("https://discord.com/channels/1/2", False),
        ("http://discord.com/api/webhooks/1/x", False),
        ("https://discord.com.evil.example/api/webhooks/1/x", False),
        ("https://hooks.example.org/api/webhooks/1", False),
    ],
)
def test_discord_webhook_urls_are_recognised(url, discord):
    assert Webhook(url=url).is_discord is discord


def test_discord_gets_content_and_an_embed_and_pings_nobody(owner, make_server, job):
    server = make_server(name="@everyone party")
    webhook = hook(owner, server, url=DISCORD)
    body = payload.body("job.failed", server, "Install of @everyone party failed (job #1).", job=failed(job))
    data, headers = payload.encode(webhook, body)
    message = json.loads(data)
    assert set(message) == {"username", "content", "embeds", "allowed_mentions"}
    assert message["content"] == "Install of @everyone party failed (job #1)."
    assert message["allowed_mentions"] == {"parse": []}
    [embed] = message["embeds"]
    assert embed["title"] == "@everyone party: A job failed" and embed["url"].endswith(f"/jobs/{job.id}")
    assert headers["Content-Type"] == "application/json"


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("192.168.1.10", "a private address"),
        ("169.254.169.254", "a link-local address"),  # cloud metadata
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_only_public_addresses_pass(address, problem):
    assert net.address_problem(address) == problem


def test_a_private_address_is_refused_when_saving(owner_client, server):
    response = owner_client.post(
        "/webhooks/",
        {"server": server.id, "url": "http://127.0.0.1:9/hook", "events": ["job.failed"], "enabled": "on"},
    )
    assert response.status_code == 400
    assert "resolves to 127.0.0.1, a loopback address: refused" in response.content.decode()
    assert not Webhook.objects.exists()


def test_the_operator_can_allow_private_addresses(owner_client, server, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    response = owner_client.post(
        "/webhooks/",
        {"server": server.id, "url": "http://127.0.0.1:9/hook", "events": ["job.failed"], "enabled": "on"},
    )
    assert response.status_code == 302 and Webhook.objects.get().url == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://files.example.org/hook", "Enter a valid URL"),
        ("https://user:pw@hooks.example.org/x", "not as user:password@"),
        ("http://localhost:8000/hook", "a loopback address"),
    ],
)
def test_urls_that_can_never_be_webhooks_are_refused(owner_client, server, url, message):
    response = owner_client.post("/webhooks/", {"server": server.id, "url": url, "events": ["job.failed"]})
    assert response.status_code == 400 and message in response.content.decode()


def test_a_name_that_resolves_to_a_private_address_at_send_time_is_refused(owner, server, job, monkeypatch):
    """DNS rebinding: public when saved, private when sent. Every send checks the addresses it resolved."""
    hook(owner, server, url="https://rebind.example.org/hook")
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))],
    )
    events.emit("job.failed", server, "failed", job=failed(job))
    send_all()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1  # refused for good: no retries
    assert "rebind.example.org resolves to 10.0.0.5, a private address: refused" in delivery.tries.get().error


# --- sending ----------------------------------------------------------------------------------


def test_a_refused_private_receiver_gets_nothing(owner, server, job):
    with Receiver() as receiver:
        hook(owner, server, url=receiver.url)
        events.emit("job.failed", server, "failed", job=failed(job))
        send_all()
    assert receiver.requests == []
    assert "127.0.0.1, a loopback address: refused" in Delivery.objects.get().tries.get().error


def test_retries_back_off_and_give_up_after_five_tries(owner, server, job, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_SECONDS = 0
    with Receiver(answers=[500] * 9) as receiver:
        hook(owner, server, url=receiver.url)
        events.emit("job.failed", server, "failed", job=failed(job))
        for _ in range(7):
            send_all()
    delivery = Delivery.objects.get()
    assert len(receiver.requests) == 5
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 5
    assert [t.status_code for t in delivery.tries.all()] == [500] * 5
    assert delivery.tries.last().error == "Internal Server Error: not today"


def test_the_backoff_doubles(owner, server, job, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_SECONDS = 10
    with Receiver(answers=[503, 503]) as receiver:
        hook(owner, server, url=receiver.url)
        events.emit("job.failed", server, "failed", job=failed(job))
        waits = []
        for _ in range(2):
            delivery = Delivery.objects.get()
            Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
            send_all()
            delivery.refresh_from_db()
            waits.append(round((delivery.next_attempt_at - delivery.tries.last().at).total_seconds()))
    assert waits == [10, 20]


def test_a_receiver_that_says_no_for_good_is_not_asked_again(owner, server, job, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(answers=[404]) as receiver:
        hook(owner, server, url=receiver.url)
        events.emit("job.failed", server, "failed", job=failed(job))
        send_all()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 1 and len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_one_sender_pass_sends_every_due_delivery_and_leaves_none_claimed(owner, server, job, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver() as receiver:
        hook(owner, server, url=receiver.url)
        for _ in range(3 * sender.PARALLEL + 1):
            events.emit("job.failed", server, "failed", job=job)
        loop = sender.WebhookSender(identity="test-host:1:1.00", node_name=None)
        try:
            loop.run_once()
        finally:
            loop.close()
    assert len(receiver.requests) == 3 * sender.PARALLEL + 1
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}


# --- pages -----------------------------------------------------------------------------------


def test_owner_adds_a_discord_webhook_for_their_server(owner_client, owner, server):
    response = owner_client.post(
        "/webhooks/",
        {"name": "Discord", "server": server.id, "url": DISCORD, "events": ["job.failed", "server.crashed"]},
    )
    webhook = Webhook.objects.get()
    assert response["Location"] == f"/webhooks/{webhook.id}"
    assert (webhook.owner, webhook.server, webhook.events) == (
        owner,
        server,
        ["job.failed", "server.crashed"],
    )
    assert "Discord message" in owner_client.get(response["Location"]).content.decode()


def test_an_owner_can_neither_hook_another_owners_server_nor_all_servers(owner_client, other_server):
    data = {"url": DISCORD, "events": ["job.failed"]}
    assert owner_client.post("/webhooks/", {**data, "server": other_server.id}).status_code == 400
    assert owner_client.post("/webhooks/", data).status_code == 400  # no server: all servers
    assert not Webhook.objects.exists()


def test_staff_can_hook_every_server(staff_client, staff):
    assert staff_client.post("/webhooks/", {"url": DISCORD, "events": ["server.crashed"]}).status_code == 302
    assert Webhook.objects.get().server is None


def test_each_owner_sees_only_their_webhooks_and_staff_see_all(
    owner, other_owner, server, other_server, staff_client
):
    mine = hook(owner, server, name="mine")
    theirs = hook(other_owner, other_server, name="theirs")
    client = Client()
    client.force_login(owner)
    page = client.get("/webhooks/").content.decode()
    assert "mine" in page and "theirs" not in page
    assert client.get(f"/webhooks/{theirs.id}").status_code == 404
    assert client.post(f"/webhooks/{theirs.id}/test").status_code == 404
    assert client.post(f"/webhooks/{theirs.id}/delete").status_code == 404
    staff_page = staff_client.get("/webhooks/").content.decode()
    assert "mine" in staff_page and "theirs" in staff_page
    assert Webhook.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


def test_anonymous_is_sent_to_log_in(anon_client, owner, server):
    webhook = hook(owner, server)
    for url in ("/webhooks/", f"/webhooks/{webhook.id}"):
        response = anon_client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_wrong_methods_are_405(owner_client, owner, server):
    webhook = hook(owner, server)
    assert owner_client.put("/webhooks/").status_code == 405
    assert owner_client.get(f"/webhooks/{webhook.id}/test").status_code == 405
    assert owner_client.get(f"/webhooks/{webhook.id}/delete").status_code == 405


def test_sending_a_test_requires_a_csrf_token(owner, server):
    webhook = hook(owner, server)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/webhooks/{webhook.id}/test").status_code == 403
    assert not Delivery.objects.exists()


def test_send_test_is_tried_once_and_its_answer_shows_in_the_delivery_log(
    owner_client, owner, server, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(answers=[500]) as receiver:
        webhook = hook(owner, server, url=receiver.url)
        assert owner_client.post(f"/webhooks/{webhook.id}/test").status_code == 302
        send_all()
        send_all()
    assert len(receiver.requests) == 1  # a test is not retried
    assert receiver.bodies[0]["event"] == "webhook.test" and "works" in receiver.bodies[0]["text"]
    page = owner_client.get(f"/webhooks/{webhook.id}").content.decode()
    assert "try 1 at" in page and "HTTP 500" in page and "not today" in page


def test_owner_deletes_a_webhook(owner_client, owner, server):
    webhook = hook(owner, server)
    assert owner_client.post(f"/webhooks/{webhook.id}/delete").status_code == 302
    assert not Webhook.objects.exists()


def test_the_webhook_page_costs_the_same_queries_for_1_or_50_deliveries(
    owner_client, owner, server, job, django_assert_max_num_queries
):
    webhook = hook(owner, server)
    events.emit("job.failed", server, "failed", job=job)
    with django_assert_max_num_queries(10) as one:
        owner_client.get(f"/webhooks/{webhook.id}")
    for _ in range(49):
        events.emit("job.failed", server, "failed", job=job)
    with django_assert_max_num_queries(len(one.captured_queries)):
        owner_client.get(f"/webhooks/{webhook.id}")


# --- with a real worker -------------------------------------------------------------------------


def a_start_that_fails(owner, make_server):
    """A start of a server that was never installed: a job that fails at once."""
    return Job.enqueue(make_server(name="Fails to start"), JobKind.START, owner)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_failed_job_reaches_a_local_receiver_with_retries_after_a_500(owner, make_server, tmp_path):
    with Receiver(answers=[500]) as receiver:
        job = a_start_that_fails(owner, make_server)
        webhook = hook(owner, job.server, url=receiver.url)
        worker = start_worker(
            *("--poll", "0.1"),
            log_path=tmp_path / "w.log",
            HOSTCTL_ROOT=tmp_path / "servers",
            L4D2_WEBHOOKS_ALLOW_PRIVATE="1",
            L4D2_WEBHOOK_RETRY_SECONDS="0.2",
        )
        with running(worker):
            wait_until(lambda: Delivery.objects.filter(state=DeliveryState.DELIVERED).exists(), timeout=60)
    delivery = Delivery.objects.get(webhook=webhook)
    assert delivery.attempts == 2 and [t.status_code for t in delivery.tries.all()] == [500, 204]
    assert len(receiver.requests) == 2
    path, headers, body = receiver.requests[1]
    assert path == "/hook?token=abc" and headers["Content-Type"] == "application/json"
    assert body["event"] == "job.failed" and body["job"]["id"] == job.id and body["job"]["state"] == "failed"
    assert body["text"] == f"Start of Fails to start failed (job #{job.id})."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_a_private_receiver_unless_allowed(owner, make_server, tmp_path):
    with Receiver() as receiver:
        job = a_start_that_fails(owner, make_server)
        hook(owner, job.server, url=receiver.url)  # saved behind the form's back
        worker = start_worker("--poll", "0.1", log_path=tmp_path / "w.log", HOSTCTL_ROOT=tmp_path / "servers")
        with running(worker):
            wait_until(lambda: Delivery.objects.filter(state=DeliveryState.FAILED).exists(), timeout=60)
    assert receiver.requests == []
    assert "a loopback address: refused" in Delivery.objects.get().tries.get().error


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_hangs_never_holds_up_the_job(owner, make_server, tmp_path):
    gate = threading.Event()
    with Receiver(gate=gate) as receiver:
        job = a_start_that_fails(owner, make_server)
        hook(owner, job.server, url=receiver.url)
        worker = start_worker(
            *("--poll", "0.1"),
            log_path=tmp_path / "w.log",
            HOSTCTL_ROOT=tmp_path / "servers",
            L4D2_WEBHOOKS_ALLOW_PRIVATE="1",
        )
        with running(worker):
            wait_until(lambda: receiver.requests, timeout=60)
            # The receiver holds the request open, and the job is long finished.
            assert Job.objects.get(pk=job.pk).state == JobState.FAILED
            assert Delivery.objects.get().state == DeliveryState.SENDING
            later = Job.enqueue(job.server, JobKind.STOP, owner)
            wait_until(lambda: Job.objects.get(pk=later.pk).state == JobState.SUCCEEDED, timeout=60)
            gate.set()
            wait_until(lambda: Delivery.objects.get().state == DeliveryState.DELIVERED, timeout=30)


def test_an_unknown_host_is_said_in_words_not_as_an_errno(owner, server, job, monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    hook(owner, server, url="https://no-such-host.example.org/hook")
    events.emit("job.failed", server, "failed", job=failed(job))
    send_all()
    error = Delivery.objects.get().tries.first().error
    assert "Could not reach the receiver: its host name was not found" in error
    assert "Errno" not in error


def test_an_owner_is_not_offered_every_server_in_the_webhook_form(owner_client, staff_client, server):
    assert "every server (staff only)" not in owner_client.get("/webhooks/").content.decode()
    assert "every server (staff only)" in staff_client.get("/webhooks/").content.decode()
