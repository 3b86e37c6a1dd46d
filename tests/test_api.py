"""The HTTP API (DESIGN.md §12): keys, their scope, errors, paging, the OpenAPI document, and the
authorization matrix over every route of the router."""

import io
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import AsyncClient, Client
from django.utils import timezone
from openapi_spec_validator import validate

from addons.models import WorkshopItem
from api.models import ApiKey
from automation.models import Schedule, Webhook
from jobs.models import Job, JobKind, JobLog, JobState
from servers import permissions
from servers.models import Server, ServerMember
from servers.team import service

from .test_log_text import body_of

pytestmark = pytest.mark.django_db

# (method, path) -> what a caller must hold: a permission on the path's server, "login"
# (any valid key or session), or "webhook owner".
ROUTES = {
    ("get", "/api/v1/servers"): "login",
    ("get", "/api/v1/servers/{server_id}"): "server.read",
    ("get", "/api/v1/servers/{server_id}/jobs"): "server.read",
    ("post", "/api/v1/servers/{server_id}/jobs"): "power.restart",
    ("post", "/api/v1/servers/{server_id}/console"): "console.command",
    ("get", "/api/v1/servers/{server_id}/console"): "console.read",
    ("get", "/api/v1/servers/{server_id}/settings"): "settings.read",
    ("patch", "/api/v1/servers/{server_id}/settings"): "settings.update",
    ("get", "/api/v1/jobs/{job_id}"): "server.read",
    ("post", "/api/v1/jobs/{job_id}/cancel"): "jobs.cancel",
    ("post", "/api/v1/jobs/{job_id}/retry"): "game.install",
    ("get", "/api/v1/jobs/{job_id}/lines"): "server.read",
    ("get", "/api/v1/servers/{server_id}/schedules"): "schedules.read",
    ("post", "/api/v1/servers/{server_id}/schedules"): "schedules.update",
    ("get", "/api/v1/servers/{server_id}/schedules/{schedule_id}"): "schedules.read",
    ("patch", "/api/v1/servers/{server_id}/schedules/{schedule_id}"): "schedules.update",
    ("delete", "/api/v1/servers/{server_id}/schedules/{schedule_id}"): "schedules.update",
    ("get", "/api/v1/webhooks"): "login",
    ("post", "/api/v1/webhooks"): "webhooks.update",
    ("get", "/api/v1/webhooks/{webhook_id}"): "webhook owner",
    ("patch", "/api/v1/webhooks/{webhook_id}"): "webhook owner",
    ("delete", "/api/v1/webhooks/{webhook_id}"): "webhook owner",
    ("post", "/api/v1/webhooks/{webhook_id}/test"): "webhook owner",
    ("get", "/api/v1/servers/{server_id}/members"): "members.read",
    ("post", "/api/v1/servers/{server_id}/members"): "members.update",
    ("patch", "/api/v1/servers/{server_id}/members/{member_id}"): "members.update",
    ("delete", "/api/v1/servers/{server_id}/members/{member_id}"): "members.update",
    ("get", "/api/v1/servers/{server_id}/activity"): "activity.read",
    ("get", "/api/v1/account/activity"): "login",
    ("get", "/api/v1/servers/{server_id}/addons"): "addons.read",
    ("post", "/api/v1/servers/{server_id}/addons/workshop"): "addons.update",
    ("delete", "/api/v1/servers/{server_id}/addons/workshop/{item_id}"): "addons.update",
}
BODIES = {
    ("post", "/api/v1/servers/{server_id}/jobs"): {"kind": "restart"},
    ("post", "/api/v1/servers/{server_id}/console"): {"command": "status"},
    ("patch", "/api/v1/servers/{server_id}/settings"): {"sv_tags": "coop"},
    ("post", "/api/v1/servers/{server_id}/schedules"): {"cron": "0 5 * * *", "action": "restart"},
    ("patch", "/api/v1/servers/{server_id}/schedules/{schedule_id}"): {"name": "Nightly"},
    ("post", "/api/v1/webhooks"): {
        "name": "x",
        "server": "{server_id}",
        "url": "https://example.org/h",
        "events": ["job.failed"],
    },
    ("patch", "/api/v1/webhooks/{webhook_id}"): {"name": "renamed"},
    ("post", "/api/v1/servers/{server_id}/members"): {"username": "newcomer", "permissions": ["server.read"]},
    ("patch", "/api/v1/servers/{server_id}/members/{member_id}"): {"permissions": []},
    ("post", "/api/v1/servers/{server_id}/addons/workshop"): {"items": ["3000000001"]},
}

CALLERS = [
    "no key",
    "bad key",
    "expired key",
    "key from a disallowed address",
    "key without the permission",
    "key limited to another server",
    "member",
    "owner",
    "staff",
]


def test_the_openapi_document_validates_and_lists_every_route(client):
    document = client.get("/api/v1/openapi.json").json()
    validate(document)
    listed = {(method, path) for path, item in document["paths"].items() for method in item}
    assert listed == set(ROUTES)


def test_the_openapi_document_and_docs_are_served_without_a_cdn(client):
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "L4D2 host panel API"
    docs = client.get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()


class World:
    """A server with everything a route may name, a second server, the cast and their keys."""

    def __init__(self, django_user_model, needed):
        # Someone's own webhooks: a key needs webhooks.update to reach them.
        needed = "webhooks.update" if needed == "webhook owner" else needed
        make = django_user_model.objects.create_user
        self.owner = make("owner")
        self.member_user = make("member")
        self.staff = make("staff", is_staff=True)
        make("newcomer")
        self.server = Server.objects.create(owner=self.owner, name="Api", port=27200)
        self.elsewhere = Server.objects.create(owner=self.owner, name="Elsewhere", port=27201)
        granted = {needed} if needed in permissions.ALL else set()
        ServerMember.objects.create(server=self.server, user=self.member_user, permissions=sorted(granted))
        self.target = ServerMember.objects.create(server=self.server, user=make("target"), permissions=[])
        self.job = Job.objects.create(
            server=self.server,
            kind=JobKind.INSTALL,
            state=JobState.FAILED,
            exit_code=1,
            requested_by=self.owner,
        )
        self.schedule = Schedule.objects.create(server=self.server, cron="0 5 * * *", timezone="UTC")
        self.webhook = Webhook.objects.create(
            owner=self.owner, server=self.server, name="h", url="https://example.org/h", events=["job.failed"]
        )
        self.workshop_item = WorkshopItem.objects.create(server=self.server, item_id="3000000001")
        all_names = sorted(permissions.ALL)
        self.keys = {
            "member": ApiKey.new(self.member_user, "m", all_names)[1],
            "owner": ApiKey.new(self.owner, "o", all_names)[1],
            "staff": ApiKey.new(self.staff, "s", all_names)[1],
            "expired key": ApiKey.new(
                self.owner, "e", all_names, expires_at=timezone.now() - timedelta(seconds=1)
            )[1],
            "key from a disallowed address": ApiKey.new(
                self.owner, "ip", all_names, allowed_ips=["10.9.8.0/24"]
            )[1],
            "key without the permission": ApiKey.new(self.owner, "w", sorted(permissions.ALL - {needed}))[1],
            "key limited to another server": ApiKey.new(self.owner, "l", all_names, [self.elsewhere])[1],
            "bad key": "l4d2_" + "x" * 40,
        }

    def url(self, path):
        return path.format(
            server_id=self.server.id,
            job_id=self.job.id,
            schedule_id=self.schedule.id,
            webhook_id=self.webhook.id,
            member_id=self.target.id,
            item_id=self.workshop_item.item_id,
        )

    def call(self, caller, method, path, body=None):
        headers = {} if caller == "no key" else {"HTTP_AUTHORIZATION": f"Bearer {self.keys[caller]}"}
        client = Client()
        if method == "get":
            return client.get(self.url(path), **headers)
        body = {
            name: self.url(value) if isinstance(value, str) else value for name, value in (body or {}).items()
        }
        return getattr(client, method)(self.url(path), body, content_type="application/json", **headers)


def expected(needed, caller, path):
    """The status a caller must get, or "allowed" (neither 401, 403 nor 404)."""
    if caller in ("no key", "bad key", "expired key"):
        return 401
    if caller == "key from a disallowed address":
        return 403
    if needed == "login":
        return "allowed"
    if needed == "webhook owner":  # someone's own webhooks: nobody else's keys find them
        return "allowed" if caller in ("owner", "staff") else 404
    if caller == "key limited to another server":
        return 404
    if caller == "key without the permission":
        return 403
    return "allowed"


def cases():
    return [
        pytest.param(method, path, needed, caller, id=f"{method.upper()} {path} by {caller}")
        for (method, path), needed in ROUTES.items()
        for caller in CALLERS
        # Every key may see the servers it may act on, as every member may.
        if not (needed == "server.read" and caller == "key without the permission")
    ]


@pytest.mark.parametrize("method, path, needed, caller", cases())
def test_api_matrix(django_user_model, method, path, needed, caller):
    world = World(django_user_model, needed)
    response = world.call(caller, method, path, BODIES.get((method, path)))
    want = expected(needed, caller, path)
    if want == "allowed":
        assert response.status_code not in (401, 403, 404), response.content
    else:
        assert response.status_code == want, response.content
        assert isinstance(response.json()["detail"], str)


def test_every_error_is_json_with_detail(django_user_model, settings):
    world = World(django_user_model, "server.read")
    answers = [
        world.call("no key", "get", "/api/v1/servers"),
        world.call("owner", "get", "/api/v1/servers/999999"),
        world.call("owner", "post", f"/api/v1/jobs/{world.job.id}/cancel"),  # finished: 409
        world.call("owner", "post", "/api/v1/servers/{server_id}/jobs", {"kind": "format"}),  # 400
        world.call("owner", "post", "/api/v1/servers/{server_id}/jobs", {}),  # schema: 422
    ]
    assert [a.status_code for a in answers] == [401, 404, 409, 400, 422]
    assert all(
        a["Content-Type"] == "application/json; charset=utf-8" and "detail" in a.json() for a in answers
    )


def test_a_key_over_its_rate_answers_429_with_retry_after(django_user_model, settings):
    settings.API_RATE_PER_MINUTE = 3
    world = World(django_user_model, "server.read")
    statuses = [world.call("owner", "get", "/api/v1/servers").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = world.call("owner", "get", "/api/v1/servers")
    assert 1 <= int(last["Retry-After"]) <= 61 and "at most 3 a minute" in last.json()["detail"]
    assert world.call("staff", "get", "/api/v1/servers").status_code == 200  # per key


def test_revoking_a_members_permission_narrows_their_keys_at_once(django_user_model):
    world = World(django_user_model, "console.read")
    path = "/api/v1/servers/{server_id}/console"
    assert world.call("member", "get", path).status_code == 200
    member = ServerMember.objects.get(user=world.member_user)
    service.update_member(world.owner, member, [])
    assert world.call("member", "get", path).status_code == 403


def test_a_session_may_call_the_api_with_its_csrf_token(owner, server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/v1/servers").status_code == 200
    url = f"/api/v1/servers/{server.id}/jobs"
    assert client.post(url, {"kind": "start"}, content_type="application/json").status_code == 403
    client.get("/servers/")  # the page sets the CSRF cookie, as a browser's would
    token = client.cookies["csrftoken"].value
    answer = client.post(url, {"kind": "start"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 201


def test_cursor_pages_of_ten_thousand_jobs_return_each_job_once(owner, server):
    Job.objects.bulk_create(
        Job(server=server, kind=JobKind.START, state=JobState.SUCCEEDED, exit_code=0) for _ in range(10_000)
    )
    key = ApiKey.new(owner, "pager", ["server.read"])[1]
    client, seen, cursor = Client(), [], None
    while True:
        url = f"/api/v1/servers/{server.id}/jobs?limit=200" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}").json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 10_000
    assert seen == sorted(seen, reverse=True)


def test_createapikey_prints_the_key_as_its_last_line_and_stores_only_a_digest(owner, server):
    out = io.StringIO()
    call_command("createapikey", "owner", "--name", "bot", "--permission", "power.restart", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert secret.startswith("l4d2_") and key.matches(secret) and secret not in key.key_digest
    assert key.permissions == ["power.restart"]


@pytest.mark.django_db(transaction=True)
async def test_the_job_log_streams_take_a_key_in_the_authorization_header(owner, server):
    job = await Job.objects.acreate(
        server=server, kind=JobKind.INSTALL, state=JobState.SUCCEEDED, exit_code=0
    )
    await JobLog.objects.acreate(job=job, seq=1, stream="stdout", line="hello from the log")
    key = (await sync_to_async(ApiKey.new)(owner, "reader", ["server.read"]))[1]
    client = AsyncClient()
    text = await client.get(f"/jobs/{job.id}/log.txt", headers={"Authorization": f"Bearer {key}"})
    assert text.status_code == 200 and "hello from the log" in await body_of(text)
    events = await client.get(f"/jobs/{job.id}/events", headers={"Authorization": f"Bearer {key}"})
    assert events.status_code == 200 and "hello from the log" in await body_of(events)
    refused = await client.get(f"/jobs/{job.id}/log.txt", headers={"Authorization": "Bearer l4d2_nope"})
    assert refused.status_code == 401 and refused.json() == {"detail": "Not a valid API key."}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_key_from_createapikey_restarts_a_server_and_reads_the_jobs_lines_to_the_end(
    owner, udp_server, sim_host, tmp_path
):
    from tests import simservers

    from .processes import running, start_worker, stop_gracefully

    out = io.StringIO()
    call_command("createapikey", "owner", "--name", "bot", "--permission", "power.restart", stdout=out)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {out.getvalue().strip().splitlines()[-1]}"}
    Job.enqueue(udp_server, JobKind.INSTALL, owner)
    with running(
        start_worker("--poll", "0.2", log_path=tmp_path / "worker.log", HOSTCTL_ROOT=sim_host)
    ) as worker:
        client = Client()
        answer = client.post(
            f"/api/v1/servers/{udp_server.id}/jobs",
            {"kind": "restart"},
            content_type="application/json",
            **headers,
        )
        assert answer.status_code == 201
        job = answer.json()
        seen, after, finished = [], 0, False
        while not finished:  # the README's loop: ask again after the last seq until it has ended
            page = client.get(f"/api/v1/jobs/{job['id']}/lines?after={after}", **headers).json()
            seen += page["lines"]
            after = seen[-1]["seq"] if seen else after
            finished = page["finished"] and not page["lines"]
            if not page["lines"]:
                time.sleep(0.1)
        assert [line["seq"] for line in seen] == list(range(1, len(seen) + 1))
        assert seen[-1]["line"] == "Server is now running."
        assert client.get(f"/api/v1/jobs/{job['id']}", **headers).json()["state"] == "succeeded"
        stop_gracefully(worker)
    simservers.stop(udp_server)


def test_the_api_keys_page_shows_a_new_key_once_lists_it_and_revokes_it(owner, server, owner_client):
    page = owner_client.post(
        "/account/api-keys", {"name": "discord-bot", "permissions": ["power.restart"], "expires": "30"}
    ).content.decode()
    secret = page.split('id="api-key-secret" class="copy" readonly value="')[1].split('"')[0]
    key = ApiKey.objects.get()
    assert key.matches(secret) and key.permissions == ["power.restart"] and key.expires_at is not None
    listed = owner_client.get("/account/api-keys").content.decode()
    assert "discord-bot" in listed and key.lookup in listed and secret not in listed
    owner_client.post(f"/account/api-keys/{key.id}/revoke")
    assert Client().get("/api/v1/servers", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_a_member_may_ask_a_key_only_for_permissions_they_hold(server, django_user_model):
    friend = django_user_model.objects.create_user("friend")
    ServerMember.objects.create(server=server, user=friend, permissions=["console.read"])
    client = Client()
    client.force_login(friend)
    answer = client.post("/account/api-keys", {"name": "x", "permissions": ["power.stop"]})
    assert answer.status_code == 400 and not ApiKey.objects.exists()
    assert client.post("/account/api-keys", {"name": "x", "permissions": ["console.read"]}).status_code == 200
