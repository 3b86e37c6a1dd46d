"""What an attacker, a crash and a busy neighbour found (issue #12), one test per finding."""

import pytest
from channels.testing import WebsocketCommunicator

from l4d2site.asgi import application

pytestmark = pytest.mark.django_db


# --- no 500 from bad input ---------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["server=%C2%B2", "server=1234567890123456789012345", "before=%C2%B2", "after=-3"]
)
def test_admin_jobs_ignores_filters_that_are_not_ids(staff_client, job, query):
    response = staff_client.get(f"/admin/jobs?{query}")
    assert response.status_code == 200
    assert f"/jobs/{job.id}".encode() in response.content


@pytest.mark.parametrize("path", ["/servers/1234567890123456789012345", "/jobs/1234567890123456789012345"])
def test_an_id_too_long_for_the_database_is_a_404(owner_client, path):
    assert owner_client.get(path).status_code == 404


async def test_a_websocket_to_an_unknown_path_is_refused_at_the_handshake():
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    comm = WebsocketCommunicator(application, "/ws/nothing/here", headers=headers)
    connected, code = await comm.connect()
    assert not connected


# --- headers ------------------------------------------------------------------------


def test_every_page_has_a_content_security_policy_without_inline_script(owner_client, server):
    policy = owner_client.get(f"/servers/{server.id}")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"


def test_pages_with_live_state_are_never_stored_so_back_asks_again(owner_client, server, job):
    for path in ("/servers/", f"/servers/{server.id}", f"/jobs/{job.id}"):
        assert "no-store" in owner_client.get(path)["Cache-Control"]


def test_answers_to_anonymous_visitors_are_never_stored_either(anon_client, job):
    # The login page, a redirect to it, and the plain-text refusal of a stream.
    for path in ("/accounts/login/", f"/jobs/{job.id}/log.txt", f"/jobs/{job.id}/events"):
        assert "no-store" in anon_client.get(path)["Cache-Control"], path


def test_static_files_stay_cacheable(owner_client):
    response = owner_client.get("/static/js/logview.js")
    assert response.status_code == 200
    assert "max-age=" in response["Cache-Control"] and "no-store" not in response["Cache-Control"]


def test_pages_contain_no_inline_script(owner_client, staff_client, server, job):
    import re

    for client, path in [
        (owner_client, f"/servers/{server.id}"),
        (owner_client, f"/jobs/{job.id}"),
        (staff_client, "/admin/jobs"),
    ]:
        html = client.get(path).content.decode()
        inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag]
        assert inline == [], f"{path}: {inline}"
        assert not re.search(r"\son[a-z]+=", html), f"{path} has an inline event handler"


# --- login throttling ----------------------------------------------------------------


def try_login(client, username, password, ip="203.0.113.7"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_ten_failed_logins_lock_the_account_with_a_clear_message_even_for_the_right_password(
    anon_client, owner
):
    for _ in range(9):
        assert try_login(anon_client, "owner", "wrong").status_code == 200  # the form again
    assert try_login(anon_client, "owner", "wrong").status_code == 429  # the 10th failure locks
    response = try_login(anon_client, "owner", "pw-owner", ip="198.51.100.1")  # another address too
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content and b"15 minutes" in response.content
    assert "_auth_user_id" not in anon_client.session


def test_ten_failed_logins_from_one_address_lock_that_address_for_every_name(anon_client, owner, other_owner):
    for number in range(10):
        try_login(anon_client, f"guess{number}", "wrong")
    assert try_login(anon_client, "other", "pw-other").status_code == 429
    assert try_login(anon_client, "other", "pw-other", ip="198.51.100.2").status_code == 302


def test_staff_unlock_a_locked_account_in_the_admin(anon_client, staff_client, owner):
    from axes.models import AccessAttempt

    for _ in range(10):
        try_login(anon_client, "owner", "wrong")
    assert try_login(anon_client, "owner", "pw-owner").status_code == 429
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    staff_client.post(
        "/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert not AccessAttempt.objects.exists()
    assert try_login(anon_client, "owner", "pw-owner").status_code == 302
