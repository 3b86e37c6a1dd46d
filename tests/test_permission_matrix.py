"""The authorization matrix (DESIGN.md §11): every URL pattern and WebSocket route, as every role.

The routes come from the URL resolver and the WebSocket routing table, and a test fails
when one of them is missing from the tables below: a new URL cannot be forgotten.

Roles: anonymous, a non-member, a member holding every permission *but* the one the
route needs, a member holding only that one, the owner, and staff. Expected:
anonymous -> the login page (SSE: 403; WebSocket: closed 4403); non-member -> 404;
member without -> 403 with the reason (WebSocket: 4403); member with, owner, staff ->
allowed (a GET answers 200; a POST is neither 403 nor 404: it may still be a 400/409
for the state things are in).
"""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape

from automation.models import Schedule, Webhook
from jobs.models import Job, JobKind, JobLog, JobState
from l4d2site.asgi import application
from l4d2site.routing import websocket_urlpatterns
from servers import permissions
from servers.models import Invite, ServerMember

from .test_backups import stored_backup
from .test_job_logs import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ["anonymous", "non-member", "member without", "member with", "owner", "staff"]

# URL name -> [(method, who may)]. `who may`: a permission name (on the URL's server),
# "login" (any logged-in user), "staff", "anyone", or "webhook owner".
HTTP = {
    "servers:list": [("GET", "login")],
    "servers:detail": [("GET", "server.read")],
    "servers:auto_restart": [("POST", "settings.update")],
    "servers:console": [("GET", "console.read"), ("POST", "console.command")],
    "servers:settings": [("GET", "settings.read"), ("POST", "settings.update")],
    "servers:files": [("GET", "files.read")],
    "servers:file_edit": [("GET", "files.read"), ("POST", "files.update")],
    "servers:file_download": [("GET", "files.read")],
    "servers:file_upload": [("POST", "files.update")],
    "servers:file_mkdir": [("POST", "files.update")],
    "servers:file_rename": [("POST", "files.update")],
    "servers:file_delete": [("POST", "files.update")],
    "servers:keep_map": [("POST", "settings.update")],
    "servers:rcon_reveal": [("POST", "rcon.reveal")],
    "servers:rcon_rotate": [("POST", "rcon.reveal")],
    "servers:members": [("GET", "members.read"), ("POST", "members.update")],
    "servers:member": [("GET", "members.read"), ("POST", "members.update")],
    "servers:member_remove": [("POST", "members.update")],
    "servers:invite_create": [("POST", "members.update")],
    "servers:invite_revoke": [("POST", "members.update")],
    "servers:invite": [("GET", "anyone")],
    "servers:activity": [("GET", "activity.read")],
    "server_jobs": [("GET", "server.read"), ("POST", "power.stop")],
    "jobs:detail": [("GET", "server.read")],
    "jobs:cancel": [("POST", "jobs.cancel")],
    "jobs:retry": [("POST", "game.install")],
    "jobs:now": [("POST", "game.install")],
    "jobs:events": [("GET", "server.read")],
    "jobs:log_txt": [("GET", "server.read")],
    "jobs:search": [("GET", "server.read")],
    "jobs:lines": [("GET", "server.read")],
    "automation:schedules": [("GET", "schedules.read"), ("POST", "schedules.update")],
    "automation:schedule": [("GET", "schedules.read"), ("POST", "schedules.update")],
    "automation:schedule_toggle": [("POST", "schedules.update")],
    "automation:schedule_preview": [("GET", "schedules.read")],
    "automation:schedule_run_now": [("POST", "schedules.update")],
    "automation:schedule_delete": [("POST", "schedules.update")],
    "automation:update_policy": [("POST", "settings.update")],
    "automation:webhooks": [("GET", "login")],
    "automation:webhook": [("GET", "webhook owner"), ("POST", "webhook owner")],
    "automation:webhook_test": [("POST", "webhook owner")],
    "automation:webhook_delete": [("POST", "webhook owner")],
    "addons:page": [("GET", "addons.read")],
    "addons:sourcemod": [("POST", "addons.update")],
    "addons:plugin_upload": [("POST", "addons.update")],
    "addons:plugin_toggle": [("POST", "addons.update")],
    "addons:plugin_delete": [("POST", "addons.update")],
    "addons:admins": [("POST", "addons.update")],
    "addons:workshop_add": [("POST", "addons.update")],
    "addons:workshop_update": [("POST", "addons.update")],
    "addons:workshop_remove": [("POST", "addons.update")],
    "backups:list": [("GET", "backups.read"), ("POST", "backups.create")],
    "backups:settings": [("POST", "settings.update")],
    "backups:detail": [("GET", "backups.read")],
    "backups:restore": [("POST", "backups.restore")],
    "backups:lock": [("POST", "backups.delete")],
    "backups:delete": [("POST", "backups.delete")],
    "backups:download": [("GET", "backups.download")],
    "admin_jobs": [("GET", "staff")],
    "login": [("GET", "anyone")],
    "logout": [("POST", "anyone")],
    "account": [("GET", "login")],
    "account_password": [("GET", "login"), ("POST", "login")],
    "account_activity": [("GET", "login")],
    "account_two_factor": [("GET", "login")],
    "account_two_factor_setup": [("POST", "login")],
    "account_two_factor_confirm": [("POST", "login")],
    "account_recovery_codes": [("POST", "login")],
    "account_two_factor_disable": [("POST", "login")],
    "api_keys": [("GET", "login"), ("POST", "login")],
    "api_key_revoke": [("POST", "login")],
}
# Answer the same to everyone, whoever asks: password reset is off without mail settings (404).
FIXED = {
    "password_reset": 404,
    "password_reset_done": 404,
    "password_reset_confirm": 404,
    "password_reset_complete": 404,
}
# Redirects with no check of their own (the pages they lead to are in the table).
REDIRECTS = {"/": "/servers/", "/admin/jobs/": "/admin/jobs", "/favicon.ico": "/static/favicon.svg"}
# The admin's login is the panel's (throttled, with the two-factor step): anyone may open it.
ADMIN_LOGIN = "/admin/login/"
REDIRECT_NAMES = {
    "password_change": "/account/password",
    "password_change_done": "/account/",
    # The login's second step, without a login owing its code: back to the login page.
    "login_code": "/accounts/login/",
}

# Pages that ask the game host's worker (servers/files/relay.py): the matrix runs none, so
# once the permission check has let a role through they answer 504 at once, not 200.
RELAYED = {"servers:files", "servers:file_edit", "servers:file_download"}

WEBSOCKETS = {
    "ws/jobs/<id:job_id>/logs": "server.read",
    "ws/servers/state": "login",
    "ws/servers/<id:server_id>/state": "server.read",
    "ws/servers/<id:server_id>/console": "console.read",
    "ws/servers/<id:server_id>/activity": "activity.read",
}

POST_DATA = {
    "servers:console": {"command": "status"},
    "servers:auto_restart": {"auto_restart": "off"},
    "servers:members": {"username": "newcomer", "permissions": ["server.read"]},
    "addons:workshop_add": {"items": "3000000001"},
    "servers:member": {"permissions": ["server.read"]},
    "servers:invite_create": {"permissions": ["server.read"]},
    "server_jobs": {"kind": "stop"},
    "automation:schedules": {"name": "x", "cron": "0 5 * * *", "timezone": "UTC", "action": "restart"},
    "automation:schedule": {"name": "x", "cron": "0 5 * * *", "timezone": "UTC", "action": "restart"},
    "automation:update_policy": {"update_policy": "off"},
    "addons:sourcemod": {"action": "install"},
    "addons:plugin_toggle": {"enabled": "1"},
    "addons:admins": {"rows": "1", "steam_id_0": "STEAM_0:1:16", "flags_0": ["root"]},
    "automation:webhook": {"name": "x", "url": "https://example.org/hook", "events": ["job.failed"]},
    "servers:file_edit": {"path": "motd.txt", "content": "hello"},
    "servers:file_mkdir": {"name": "new"},
    "servers:file_rename": {"paths": ["motd.txt"], "to": "old.txt"},
    "servers:file_delete": {"paths": ["motd.txt"], "confirmed": "1"},
    "backups:settings": {"backup_limit": "3", "backup_ignore": "*.dem"},
    "backups:lock": {"locked": "on"},
}


def walk(patterns, prefix="", namespace=""):
    """(route, url name) of every pattern the resolver serves, admin site excluded."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if (
                getattr(pattern, "app_name", None) == "admin"
                or route.startswith("admin/")
                and pattern.namespace
            ):
                continue  # Django's admin site: staff only, its own login (tested in test_security)
            if route == "api/v1/":
                continue  # the API: its own matrix over its router (tests/test_api.py)
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name}" if pattern.name else None


def test_every_url_pattern_and_websocket_route_is_in_the_matrix():
    names = {name for _, name in walk(get_resolver().url_patterns) if name}
    unnamed = {route for route, name in walk(get_resolver().url_patterns) if not name}
    assert names - set(HTTP) - set(FIXED) - set(REDIRECT_NAMES) == set()
    assert {"/" + route for route in unnamed} <= set(REDIRECTS) | {ADMIN_LOGIN}
    routes = {str(route.pattern) for route in websocket_urlpatterns if str(route.pattern)}
    assert routes == set(WEBSOCKETS)


# --- the world every case runs in ----------------------------------------------------------


class World:
    """A server with a job, a schedule, a webhook, a member to act on and an invite; and the cast."""

    def __init__(self, django_user_model, needed):
        make = django_user_model.objects.create_user
        self.users = {
            "non-member": make("outsider", password="pw"),
            "member without": make("without", password="pw"),
            "member with": make("with", password="pw"),
            "owner": make("owner", password="pw"),
            "staff": make("staff", password="pw", is_staff=True, is_superuser=True),
        }
        owner = self.users["owner"]
        from servers.models import Server

        self.server = Server.objects.create(owner=owner, name="Matrix", port=27100)
        others = permissions.ALL - {needed} if needed in permissions.ALL else permissions.ALL
        ServerMember.objects.create(
            server=self.server, user=self.users["member without"], permissions=sorted(others)
        )
        granted = {needed} if needed in permissions.ALL else set()
        ServerMember.objects.create(
            server=self.server, user=self.users["member with"], permissions=sorted(granted)
        )
        self.target = ServerMember.objects.create(
            server=self.server, user=make("target", password="pw"), permissions=["server.read"]
        )
        self.job = Job.objects.create(
            server=self.server,
            kind=JobKind.INSTALL,
            state=JobState.SUCCEEDED,
            exit_code=0,
            requested_by=owner,
        )
        JobLog.objects.create(job=self.job, seq=1, stream="stdout", line="hello")
        self.schedule = Schedule.objects.create(server=self.server, cron="0 5 * * *", timezone="UTC")
        self.webhook = Webhook.objects.create(
            owner=owner,
            server=self.server,
            name="hook",
            url="https://example.org/hook",
            events=["job.failed"],
        )
        self.invite, self.token = Invite.create(self.server, ["server.read"], owner)
        from addons.models import WorkshopItem

        WorkshopItem.objects.create(server=self.server, item_id="3000000001", state="installed")
        self.backup = stored_backup(self.server)

    def kwargs(self, route):
        values = {
            "server_id": self.server.id,
            "job_id": self.job.id,
            "schedule_id": self.schedule.id,
            "webhook_id": self.webhook.id,
            "member_id": self.target.id,
            "invite_id": self.invite.id,
            "backup_id": self.backup.id,
            "token": self.token,
            "key_id": 1,
            "name": "funcommands.smx",
            "item_id": 3000000001,
        }
        return {name: value for name, value in values.items() if f":{name}>" in route}

    def client(self, role):
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


def cases():
    return list(_cases())


def _cases():
    for name, entries in HTTP.items():
        for method, who in entries:
            for role in ROLES:
                if who == "server.read" and role == "member without":
                    continue  # every member holds server.read
                yield pytest.param(name, method, who, role, id=f"{method} {name} as {role}")


def expected(who, role, name):
    """'allowed', or the status (or 'login') the role must get."""
    if who == "anyone":
        return "allowed"
    if role == "anonymous":
        return 403 if name == "jobs:events" else "login"
    if who == "login":
        return "allowed"
    if who == "staff":
        return "allowed" if role == "staff" else 403
    if who == "webhook owner":
        return "allowed" if role in ("owner", "staff") else 404
    return {"non-member": 404, "member without": 403}.get(role, "allowed")


@pytest.mark.parametrize("name, method, who, role", cases())
def test_http_matrix(django_user_model, name, method, who, role):
    from django.urls import reverse

    world = World(django_user_model, who)
    route = next(route for route, url_name in walk(get_resolver().url_patterns) if url_name == name)
    url = reverse(name, kwargs=world.kwargs(route))
    if name == "jobs:search":
        url += "?q=hello"
    if name == "automation:schedule_preview":
        url += "?cron=0+5+*+*+*&timezone=UTC"
    client = world.client(role)
    response = client.post(url, POST_DATA.get(name, {})) if method == "POST" else client.get(url)
    want = expected(who, role, name)
    if name == "logout":
        assert response.status_code == 302  # to the login page, logged out
    elif want == "login":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    elif want == "allowed":
        if method == "GET":
            assert response.status_code == (504 if name in RELAYED else 200)
        else:
            assert response.status_code not in (403, 404)
            assert not response.get("Location", "").startswith("/accounts/login/")
    else:
        assert response.status_code == want
        if want == 403 and who in permissions.ALL and role != "anonymous":
            assert escape(permissions.reason(who)) in response.content.decode()


@pytest.mark.parametrize("name, status", FIXED.items())
def test_password_reset_pages_answer_404_to_everyone_without_mail_settings(client, name, status):
    from django.urls import reverse

    kwargs = {"uidb64": "MQ", "token": "x-y"} if name == "password_reset_confirm" else {}
    assert client.get(reverse(name, kwargs=kwargs)).status_code == status


@pytest.mark.parametrize("name, target", REDIRECT_NAMES.items())
def test_redirect_only_url_names_lead_to_a_checked_page(client, name, target):
    from django.urls import reverse

    response = client.get(reverse(name))
    assert response.status_code in (301, 302) and response["Location"].startswith(target)


def test_the_admin_login_is_the_panels_login_for_anyone(client):
    response = client.get(ADMIN_LOGIN)
    assert response.status_code == 200 and b'name="password"' in response.content


@pytest.mark.parametrize("path, target", REDIRECTS.items())
def test_redirect_only_urls_lead_to_a_checked_page(client, path, target):
    response = client.get(path)
    assert response.status_code in (301, 302) and response["Location"].startswith(target)


def ws_cases():
    return list(_ws_cases())


def _ws_cases():
    for route, who in WEBSOCKETS.items():
        for role in ROLES:
            if who in ("server.read", "login") and role == "member without":
                continue
            yield pytest.param(route, who, role, id=f"{route} as {role}")


@pytest.mark.parametrize("route, who, role", ws_cases())
async def test_websocket_matrix(django_user_model, route, who, role):
    world = await sync_to_async(World)(django_user_model, who)
    path = "/" + route
    for name, value in world.kwargs(route).items():
        path = path.replace(f"<id:{name}>", str(value))
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if role != "anonymous":
        headers.append((b"cookie", await sync_to_async(session_cookie)(world.users[role])))
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    refused = role in ("anonymous", "non-member", "member without") and not (
        who == "login" and role != "anonymous"
    )
    if refused:
        assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
    else:
        message = await comm.receive_json_from(timeout=5)
        assert message["type"] == "state"
    await comm.disconnect()
