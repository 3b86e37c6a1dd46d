"""Team access: members, what they may grant, invite links, leaving, and revocation at once."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from l4d2site.asgi import application
from servers import permissions
from servers.models import ActualState, Invite, Server, ServerMember
from servers.team import service

from .test_job_logs import session_cookie

pytestmark = pytest.mark.django_db


@pytest.fixture
def friend(django_user_model):
    return django_user_model.objects.create_user("friend", password="pw-friend")


def member(server, user, *names):
    return ServerMember.objects.create(server=server, user=user, permissions=permissions.clean(names))


def client_of(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_member_with_console_read_only_watches_the_console_and_gets_403_on_a_command(server, friend):
    member(server, friend, "console.read")
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING)
    client = client_of(friend)
    assert client.get(f"/servers/{server.id}/console").status_code == 200
    response = client.post(f"/servers/{server.id}/console", {"command": "status"})
    assert response.status_code == 403
    assert "You may not send commands to this server&#x27;s console." in response.content.decode()


def test_the_server_page_greys_out_what_a_member_may_not_do_and_says_why(server, friend):
    member(server, friend, *permissions.PRESETS["moderator"][1])
    content = client_of(friend).get(f"/servers/{server.id}").content.decode()
    assert "You may not install or update this server." in content
    assert f'href="/servers/{server.id}/settings"' not in content  # no settings.read
    assert 'id="rcon"' not in content


def test_the_server_list_shows_shared_servers_with_the_members_role(server, friend, other_server):
    member(server, friend, *permissions.PRESETS["viewer"][1])
    content = client_of(friend).get("/servers/").content.decode()
    assert server.name.replace("'", "&#x27;") in content and "Viewer" in content
    assert other_server.name.replace("'", "&#x27;") not in content


def test_a_server_with_many_members_is_listed_once(server, django_user_model):
    for name in ("a", "b", "c"):
        member(server, django_user_model.objects.create_user(name))
    assert list(Server.objects.visible_to(server.owner)) == [server]


def test_a_member_cannot_grant_a_permission_they_lack(server, friend, django_user_model):
    member(server, friend, "members.update", "console.read")
    django_user_model.objects.create_user("newcomer")
    response = client_of(friend).post(
        f"/servers/{server.id}/members",
        {"username": "newcomer", "permissions": ["console.read", "power.stop"]},
    )
    assert response.status_code == 400
    assert (
        "You may only grant or take away permissions you hold yourself (not: stop)"
        in response.content.decode()
    )
    assert not ServerMember.objects.filter(user__username="newcomer").exists()


def test_a_member_changing_another_keeps_what_they_do_not_hold(server, friend, django_user_model):
    member(server, friend, "members.update", "console.read")
    other = member(server, django_user_model.objects.create_user("other"), "power.stop", "console.read")
    client_of(friend).post(f"/servers/{server.id}/members/{other.id}", {"permissions": []})
    other.refresh_from_db()
    assert other.permissions == ["power.stop", "server.read"]  # console.read taken, power.stop not theirs


def test_a_member_cannot_remove_someone_who_holds_more_than_they_do(server, friend, django_user_model):
    member(server, friend, "members.update")
    other = member(server, django_user_model.objects.create_user("other"), "power.stop")
    response = client_of(friend).post(f"/servers/{server.id}/members/{other.id}/remove")
    assert response.status_code == 403
    assert ServerMember.objects.filter(pk=other.pk).exists()


def test_the_owner_cannot_be_added_as_a_member(server, owner_client, owner):
    response = owner_client.post(
        f"/servers/{server.id}/members", {"username": owner.username, "preset": "viewer"}
    )
    assert response.status_code == 400
    assert "owns this server already" in response.content.decode()


def test_a_member_can_leave(server, friend):
    membership = member(server, friend, "console.read")
    response = client_of(friend).post(f"/servers/{server.id}/members/{membership.id}/remove")
    assert response.status_code == 302 and response["Location"] == "/servers/"
    assert not ServerMember.objects.filter(pk=membership.pk).exists()
    assert client_of(friend).get(f"/servers/{server.id}").status_code == 404


def test_an_invite_link_makes_a_new_account_a_member_once(server, owner_client):
    page = owner_client.post(f"/servers/{server.id}/invites", {"preset": "moderator"}).content.decode()
    link = page.split('id="invite-link" class="copy" readonly value="')[1].split('"')[0]
    path = link.split("testserver", 1)[1]
    newcomer = Client()
    answer = newcomer.post(
        path, {"username": "newcomer", "password1": "A-long-pass-1", "password2": "A-long-pass-1"}
    )
    assert answer.status_code == 302 and answer["Location"] == f"/servers/{server.id}"
    joined = ServerMember.objects.get(user__username="newcomer")
    assert joined.role == "Moderator"
    assert newcomer.get(f"/servers/{server.id}").status_code == 200  # logged in already
    again = Client().post(
        path, {"username": "second", "password1": "A-long-pass-1", "password2": "A-long-pass-1"}
    )
    assert again.status_code == 410
    assert not ServerMember.objects.filter(user__username="second").exists()
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="second").exists()


def test_an_invite_link_does_not_work_after_seven_days(server, owner, friend):
    invite, token = Invite.create(server, ["console.read"], owner)
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client_of(friend).post(f"/servers/invite/{token}")
    assert response.status_code == 410
    assert not ServerMember.objects.filter(user=friend).exists()


def test_an_unknown_invite_token_is_404(client):
    assert client.get("/servers/invite/not-a-token").status_code == 404


def test_invite_tokens_are_not_stored(server, owner):
    invite, token = Invite.create(server, ["console.read"], owner)
    assert token not in invite.token_digest
    assert Invite.objects.by_token(token) == invite


@pytest.mark.django_db(transaction=True)
async def test_revoking_console_read_closes_the_members_open_console_socket(server, friend, owner):
    membership = await sync_to_async(member)(server, friend, "console.read")
    headers = [(b"host", b"localhost"), (b"cookie", await sync_to_async(session_cookie)(friend))]
    comm = WebsocketCommunicator(application, f"/ws/servers/{server.id}/console", headers=headers)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"
    await sync_to_async(service.update_member)(owner, membership, [])
    message = await comm.receive_output(timeout=2)
    while message["type"] == "websocket.send":  # frames already on their way
        message = await comm.receive_output(timeout=2)
    assert message == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db(transaction=True)
async def test_removing_a_member_closes_their_job_log_socket(server, friend, owner):
    from jobs.models import Job, JobKind

    membership = await sync_to_async(member)(server, friend)
    job = await sync_to_async(Job.enqueue)(server, JobKind.INSTALL, owner)
    headers = [(b"host", b"localhost"), (b"cookie", await sync_to_async(session_cookie)(friend))]
    comm = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/logs", headers=headers)
    assert (await comm.connect())[0]
    await comm.receive_json_from(timeout=5)
    await sync_to_async(service.remove_member)(owner, membership)
    deadline = asyncio.get_running_loop().time() + 2
    while True:
        message = await comm.receive_output(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
        if message["type"] == "websocket.close":
            break
    assert message["code"] == 4403
