"""Two-factor login (accounts/two_factor.py): setting up TOTP, the code step after the
password, recovery codes, wrong codes and the throttle, L4D2_2FA_REQUIRED, the admin and
WebSockets of a login that owes its code.

Codes are computed here from the device's key with django_otp.oath.totp, as an app would.
"""

import re

import pytest
from asgiref.sync import sync_to_async
from axes.models import AccessAttempt
from channels.testing import WebsocketCommunicator
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from activity.models import Event
from l4d2site.asgi import application

pytestmark = pytest.mark.django_db

HOME = "198.51.100.10"
ATTACKER = "203.0.113.66"
CODE_STEP = "/accounts/login/code/"


def code_for(device, steps_ahead=0):
    """The code the app shows now (or `steps_ahead` 30 s steps later: a code is used once,
    so a test that logs in twice within one step takes the next one)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead):06d}"


def wrong_code(device):
    right = {code_for(device, ahead) for ahead in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in right)


def enrol(user):
    """A user with two-factor on: a confirmed authenticator and 10 recovery codes."""
    device = TOTPDevice.objects.create(user=user, name=two_factor.TOTP_NAME, confirmed=True)
    return device, two_factor.new_recovery_codes(user)


@pytest.fixture
def owner_device(owner):
    return enrol(owner)


def password_step(username, ip=HOME, path="/accounts/login/", client=None, **extra):
    client = client or Client(REMOTE_ADDR=ip)
    response = client.post(path, {"username": username, "password": "pw-" + username, **extra})
    return client, response


def code_step(client, code, next_url=""):
    return client.post(CODE_STEP, {"code": code, "next": next_url})


def logged_in(owner_device, ip=HOME, steps_ahead=0):
    device, _ = owner_device
    client, _ = password_step("owner", ip)
    assert code_step(client, code_for(device, steps_ahead)).status_code == 302
    return client


def actions(user):
    return list(Event.objects.filter(actor=user).order_by("id").values_list("action", flat=True))


# --- setting it up ---------------------------------------------------------------------------


def test_setting_up_shows_a_qr_code_drawn_here_and_stays_off_until_a_code_confirms_it(owner_client, owner):
    page = owner_client.get("/account/two-factor").content.decode()
    assert "Set up two-factor login" in page
    assert owner_client.post("/account/two-factor/setup").status_code == 302
    device = TOTPDevice.objects.get(user=owner)
    assert not device.confirmed

    page = owner_client.get("/account/two-factor").content.decode()
    assert 'src="data:image/svg+xml' in page  # no QR service ever sees the key
    key = re.search(r'id="totp-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert key == two_factor.b32encode(device.bin_key).decode().rstrip("=")

    # Not on yet: the password alone still logs in.
    _, response = password_step("owner")
    assert response["Location"] == "/servers/"

    response = owner_client.post("/account/two-factor/confirm", {"code": wrong_code(device)})
    assert response.status_code == 400 and b"That code is not right" in response.content
    device.refresh_from_db()
    assert not device.confirmed and not StaticDevice.objects.filter(user=owner).exists()

    response = owner_client.post("/account/two-factor/confirm", {"code": code_for(device)})
    assert response.status_code == 200
    shown = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", response.content.decode())
    assert len(set(shown)) == 10
    assert sorted(c.replace("-", "") for c in shown) == sorted(
        StaticToken.objects.filter(device__user=owner).values_list("token", flat=True)
    )
    device.refresh_from_db()
    assert device.confirmed
    assert "account.2fa_enabled" in actions(owner)
    # This session turned it on with a code: it goes on without another.
    assert owner_client.get("/servers/").status_code == 200
    # The codes are shown once: the page afterwards only counts them.
    page = owner_client.get("/account/two-factor").content.decode()
    assert "<strong>10</strong> recovery codes left" in page and shown[0] not in page


def test_starting_again_replaces_the_unconfirmed_key(owner_client, owner):
    owner_client.post("/account/two-factor/setup")
    first = TOTPDevice.objects.get(user=owner)
    owner_client.post("/account/two-factor/setup")
    second = TOTPDevice.objects.get(user=owner)
    assert first.key != second.key and not TOTPDevice.objects.filter(pk=first.pk).exists()
    assert owner_client.post("/account/two-factor/confirm", {"code": code_for(second)}).status_code == 200


def test_setting_up_again_while_it_is_on_is_refused(owner_device, owner):
    client = logged_in(owner_device)
    response = client.post("/account/two-factor/setup", follow=True)
    assert b"on already" in response.content
    assert TOTPDevice.objects.filter(user=owner).count() == 1


# --- the code step ---------------------------------------------------------------------------


def test_logging_in_takes_the_code_after_the_password(owner_device, owner):
    device, _ = owner_device
    client, response = password_step("owner")
    assert response["Location"] == f"{CODE_STEP}?next=%2Fservers%2F"
    page = client.get(response["Location"])
    assert b"Two-factor code" in page.content and b">Servers</a>" not in page.content  # no way on

    response = code_step(client, code_for(device), next_url="/servers/")
    assert response["Location"] == "/servers/"
    assert client.get("/servers/").status_code == 200
    assert actions(owner) == ["auth.password_ok", "auth.2fa_verified", "auth.login"]
    login = Event.objects.get(action="auth.login")
    assert (login.ip, login.detail) == (HOME, {"username": "owner", "two_factor": "totp"})


def test_a_login_past_the_password_only_reaches_no_page(owner_device, owner, server, job):
    client, _ = password_step("owner")
    for path in [
        "/servers/",
        f"/servers/{server.id}",
        f"/jobs/{job.id}",
        f"/jobs/{job.id}/log.txt",
        "/webhooks/",
        "/account/",
        "/account/activity",
        "/account/two-factor",
        "/admin/",
        "/accounts/login/",
    ]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"{CODE_STEP}?next={path.replace('/', '%2F')}", path
    # Actions too (without a next: a POST's URL is no page to come back to).
    for path in ["/account/two-factor/disable", f"/jobs/{job.id}/cancel", "/account/password"]:
        response = client.post(path, {"code": "123456"})
        assert response.status_code == 302 and response["Location"] == CODE_STEP, path
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).exists()
    # The way out stays open.
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/servers/")["Location"].startswith("/accounts/login/")


def test_a_wrong_code_is_refused_and_recorded_without_the_code(owner_device, owner):
    device, _ = owner_device
    client, _ = password_step("owner", ATTACKER)
    guess = wrong_code(device)
    response = code_step(client, guess)
    assert response.status_code == 200 and b"That code is not right" in response.content
    assert client.get("/servers/").status_code == 302
    event = Event.objects.get(action="auth.2fa_failed")
    assert (event.actor, event.ip, event.detail) == (
        owner,
        ATTACKER,
        {"username": "owner", "method": "totp", "purpose": "login"},
    )
    assert not Event.objects.filter(action__in=["auth.login", "auth.login_failed"]).exists()
    # It counts as a failed login of the account, for the throttle; the code is not kept.
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("owner", ATTACKER, 1)
    assert guess not in attempt.post_data


def test_a_totp_code_is_used_once(owner_device):
    device, _ = owner_device
    code = code_for(device)
    first, _ = password_step("owner")
    assert code_step(first, code).status_code == 302
    second, _ = password_step("owner")
    assert code_step(second, code).status_code == 200
    assert second.get("/servers/").status_code == 302


def test_a_recovery_code_logs_in_once(owner_device, owner):
    _, codes = owner_device
    client, _ = password_step("owner")
    typed = two_factor.shown(codes[3]).upper()  # "ABCD-EFGH", as copied from the page
    response = code_step(client, typed)
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"You logged in with a recovery code; 9 left" in page.content
    event = Event.objects.get(action="auth.2fa_verified")
    assert event.detail == {"username": "owner", "method": "recovery_code", "recovery_codes_left": 9}

    again, _ = password_step("owner")
    assert code_step(again, typed).status_code == 200
    assert again.get("/servers/").status_code == 302
    assert Event.objects.get(action="auth.2fa_failed").detail["method"] == "recovery_code"


def test_the_code_step_is_for_a_login_that_owes_one(owner_client, anon_client, owner_device):
    # Logged in all the way (no device when it logged in): nothing to do there.
    assert owner_client.get(CODE_STEP)["Location"] == "/servers/"
    assert anon_client.get(CODE_STEP)["Location"] == f"/accounts/login/?next={CODE_STEP}"


def test_the_code_step_goes_nowhere_but_this_site(owner_device):
    device, _ = owner_device
    client, _ = password_step("owner")
    response = code_step(client, code_for(device), next_url="https://evil.example/")
    assert response["Location"] == "/servers/"


def test_a_login_whose_devices_staff_removed_meanwhile_goes_on_with_the_password(owner_device, owner):
    client, _ = password_step("owner")
    TOTPDevice.objects.filter(user=owner).delete()
    StaticDevice.objects.filter(user=owner).delete()
    assert client.get(CODE_STEP)["Location"] == "/servers/"
    assert client.get("/servers/").status_code == 200


# --- wrong codes and the login throttle --------------------------------------------------------


def test_ten_wrong_codes_pause_logins_as_ten_wrong_passwords_do(owner_device, owner):
    device, _ = owner_device
    logged_in(owner_device, HOME)  # the owner's own address, logged in all the way before
    client, _ = password_step("owner", ATTACKER)
    for _ in range(9):
        assert code_step(client, wrong_code(device)).status_code == 200
    response = code_step(client, wrong_code(device))
    assert response.status_code == 429 and b"Too many failed logins" in response.content
    assert b">Servers</a>" not in response.content
    # The half login is over, and the password step is paused for this name out there...
    assert client.get("/servers/")["Location"].startswith("/accounts/login/")
    _, response = password_step("owner", ATTACKER)
    assert response.status_code == 429
    assert Event.objects.filter(action="auth.lockout", ip=ATTACKER).count() == 1
    # ...but not where the owner logs in.
    assert logged_in(owner_device, HOME, steps_ahead=1).get("/servers/").status_code == 200


def test_the_right_password_again_forgives_no_wrong_code(owner_device):
    """Only a complete login forgives: else password, 9 guesses, password, 9 guesses... forever."""
    device, _ = owner_device
    client, _ = password_step("owner", ATTACKER)
    for _ in range(9):
        code_step(client, wrong_code(device))
    client, response = password_step("owner", ATTACKER)
    assert response.status_code == 302  # 9 failures: the password step still answers
    assert code_step(client, wrong_code(device)).status_code == 429
    assert not Event.objects.filter(action="auth.login").exists()


def test_while_paused_not_even_the_right_code_is_looked_at(owner_device, owner):
    device, _ = owner_device
    client, _ = password_step("owner", ATTACKER)
    for number in range(10):  # the address guessing other names meanwhile
        Client(REMOTE_ADDR=ATTACKER).post("/accounts/login/", {"username": f"x{number}", "password": "y"})
    response = code_step(client, code_for(device))
    assert response.status_code == 429
    assert not Event.objects.filter(action="auth.2fa_verified").exists()


# --- turning it off, new recovery codes ----------------------------------------------------------


def test_turning_it_off_needs_a_valid_code(owner_device, owner):
    device, _ = owner_device
    client = logged_in(owner_device)
    response = client.post("/account/two-factor/disable", {"code": wrong_code(device)})
    assert response.status_code == 400
    off_section = response.content.decode().split("<h2>Turn it off</h2>")[1]
    assert "That code is not right" in off_section
    assert TOTPDevice.objects.filter(user=owner).exists()
    assert Event.objects.filter(action="auth.2fa_failed", detail__purpose="disable").count() == 1

    response = client.post("/account/two-factor/disable", {"code": code_for(device, steps_ahead=1)})
    assert response["Location"] == "/account/two-factor"
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert not StaticDevice.objects.filter(user=owner).exists()
    assert "account.2fa_disabled" in actions(owner)
    assert client.get("/servers/").status_code == 200  # this session goes on
    _, response = password_step("owner")
    assert response["Location"] == "/servers/"  # and the password alone logs in again


def test_guessing_codes_on_the_two_factor_page_ends_the_session(owner_device, owner):
    """A session left open is not enough to turn two-factor off: it gets the same 10 guesses."""
    device, _ = owner_device
    client = logged_in(owner_device, ATTACKER)
    for _ in range(9):
        assert client.post("/account/two-factor/disable", {"code": wrong_code(device)}).status_code == 400
    assert client.post("/account/two-factor/disable", {"code": wrong_code(device)}).status_code == 429
    assert client.get("/account/")["Location"].startswith("/accounts/login/")
    assert TOTPDevice.objects.filter(user=owner, confirmed=True).exists()


def test_new_recovery_codes_need_a_code_and_retire_the_old_ones(owner_device, owner):
    device, old = owner_device
    client = logged_in(owner_device)
    response = client.post("/account/two-factor/recovery-codes", {"code": "nonsense"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "That code is not right" in page.split("<h2>New recovery codes</h2>")[1].split("<h2>")[0]
    assert two_factor.recovery_codes_left(owner) == 10
    response = client.post("/account/two-factor/recovery-codes", {"code": code_for(device, steps_ahead=1)})
    shown = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", response.content.decode())
    assert len(shown) == 10 and not {c.replace("-", "") for c in shown} & set(old)
    assert "account.recovery_codes_regenerated" in actions(owner)
    retired, _ = password_step("owner")
    assert code_step(retired, old[0]).status_code == 200
    fresh, _ = password_step("owner")
    assert code_step(fresh, shown[0]).status_code == 302


# --- L4D2_2FA_REQUIRED ----------------------------------------------------------------------------


def test_required_for_staff_a_staff_login_without_the_code_reaches_nothing(settings, staff):
    settings.TWO_FACTOR_REQUIRED = "staff"
    device, _ = enrol(staff)
    client, response = password_step("staff", path="/admin/login/?next=/admin/")
    assert response["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    for path in ["/admin/", "/admin/auth/user/", "/admin/jobs", "/servers/"]:
        assert client.get(path)["Location"].startswith(CODE_STEP), path
    assert code_step(client, code_for(device), "/admin/")["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("policy", ["staff", "all"])
def test_a_staff_member_without_two_factor_sets_it_up_before_anything_else(settings, staff, policy):
    settings.TWO_FACTOR_REQUIRED = policy
    client, response = password_step("staff")
    assert response["Location"] == "/account/two-factor?next=%2Fservers%2F"
    for path in ["/servers/", "/admin/", "/account/", "/account/activity"]:
        assert client.get(path)["Location"].startswith("/account/two-factor"), path
    page = client.get("/account/two-factor?next=/admin/").content.decode()
    assert "requires two-factor login for your account" in page and ">Servers</a>" not in page
    assert not Event.objects.filter(action="auth.login").exists()  # not logged in all the way yet

    assert client.post("/account/two-factor/setup", {"next": "/admin/"})["Location"] == (
        "/account/two-factor?next=%2Fadmin%2F"
    )
    device = TOTPDevice.objects.get(user=staff)
    response = client.post("/account/two-factor/confirm", {"code": code_for(device), "next": "/admin/"})
    assert response.status_code == 200 and b'href="/admin/"' in response.content
    assert client.get("/admin/").status_code == 200
    assert actions(staff) == ["auth.password_ok", "account.2fa_enabled", "auth.login"]


def test_required_for_staff_leaves_other_users_alone(settings, owner):
    settings.TWO_FACTOR_REQUIRED = "staff"
    client, response = password_step("owner")
    assert response["Location"] == "/servers/"
    assert client.get("/servers/").status_code == 200


def test_required_for_all_sends_an_owner_without_a_device_to_set_it_up(settings, owner):
    settings.TWO_FACTOR_REQUIRED = "all"
    client, response = password_step("owner")
    assert response["Location"] == "/account/two-factor?next=%2Fservers%2F"
    assert client.get("/servers/")["Location"].startswith("/account/two-factor")


def test_turning_it_off_where_it_is_required_sends_this_session_to_set_up_again(settings, staff):
    settings.TWO_FACTOR_REQUIRED = "staff"
    device, _ = enrol(staff)
    client, _ = password_step("staff")
    code_step(client, code_for(device))
    response = client.post("/account/two-factor/disable", {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 302
    assert client.get("/admin/")["Location"].startswith("/account/two-factor")


def test_a_bad_policy_value_stops_the_panel_from_starting(tmp_path):
    import os
    import subprocess
    import sys

    from tests.processes import ROOT

    env = {**os.environ, "L4D2_2FA_REQUIRED": "sometimes", "DJANGO_SETTINGS_MODULE": "l4d2site.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "L4D2_2FA_REQUIRED must be off, staff or all" in result.stderr


# --- the admin --------------------------------------------------------------------------------------


def test_the_admin_logs_in_through_the_panels_login_page(anon_client):
    response = anon_client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    page = anon_client.get(response["Location"]).content.decode()
    assert 'name="next" value="/admin/"' in page and "Log in" in page
    assert "Django administration" not in page


def test_the_admin_login_goes_back_to_the_admin_even_without_a_next(staff):
    client = Client()
    page = client.get("/admin/login/").content.decode()
    assert '<form method="post" class="stack">' in page  # posts back to /admin/login/
    response = client.post("/admin/login/", {"username": "staff", "password": "pw-staff"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_admin_refuses_a_staff_session_that_has_only_the_password(staff):
    device, _ = enrol(staff)
    client, response = password_step("staff", path="/admin/login/?next=/admin/")
    assert response["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    assert client.get("/admin/")["Location"] == f"{CODE_STEP}?next=%2Fadmin%2F"
    response = client.post("/admin/auth/user/", {"action": "unlock_logins", "_selected_action": [staff.pk]})
    assert response["Location"] == CODE_STEP
    code_step(client, code_for(device))
    assert client.get("/admin/").status_code == 200


def test_staff_see_devices_in_the_admin_but_never_a_key_or_a_recovery_code(staff, owner_device, owner):
    device, codes = owner_device
    staff_device, _ = enrol(staff)
    client, _ = password_step("staff")
    code_step(client, code_for(staff_device))
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert "owner" in page and device.key not in page
    recovery = StaticDevice.objects.get(user=owner)
    page = client.get(f"/admin/otp_static/staticdevice/{recovery.pk}/change/").content.decode()
    assert not any(code in page for code in codes)
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403


# --- WebSockets ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_of_a_login_that_owes_its_code_is_refused(owner, job):
    device, _ = await sync_to_async(enrol)(owner)
    client, _ = await sync_to_async(password_step)("owner")

    async def connect():
        cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
        comm = WebsocketCommunicator(
            application,
            f"/ws/jobs/{job.id}/logs",
            headers=[(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie)],
        )
        assert (await comm.connect())[0]
        return comm

    comm = await connect()
    assert await comm.receive_output() == {"type": "websocket.close", "code": 4403}
    await sync_to_async(code_step)(client, await sync_to_async(code_for)(device))
    comm = await connect()
    assert (await comm.receive_json_from(timeout=5))["type"] == "state"
    await comm.disconnect()


# --- the usual cast: anonymous, CSRF, methods ------------------------------------------------------

POSTS = [
    "/account/two-factor/setup",
    "/account/two-factor/confirm",
    "/account/two-factor/recovery-codes",
    "/account/two-factor/disable",
]


@pytest.mark.parametrize("path", [*POSTS, "/account/two-factor", CODE_STEP])
def test_anonymous_is_sent_to_log_in(anon_client, path):
    response = anon_client.post(path, {"code": "123456"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", POSTS)
def test_actions_are_post_only(owner_client, path):
    assert owner_client.get(path).status_code == 405


def test_the_code_step_needs_the_csrf_token(owner_device, owner):
    device, _ = owner_device
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)  # a login that owes its code
    assert client.post(CODE_STEP, {"code": code_for(device)}).status_code == 403
    assert client.get("/servers/")["Location"].startswith(CODE_STEP)


@pytest.mark.parametrize("path", POSTS)
def test_every_two_factor_action_needs_the_csrf_token(owner, path):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)  # logged in all the way, then two-factor half set up...
    two_factor.start_setup(owner)
    if path != "/account/two-factor/confirm":
        device, _ = enrol(owner)  # ...or on
    device = TOTPDevice.objects.filter(user=owner).latest("pk")
    devices = list(TOTPDevice.objects.filter(user=owner).values_list("pk", "confirmed"))
    response = client.post(path, {"code": code_for(device)})
    assert response.status_code == 403
    assert list(TOTPDevice.objects.filter(user=owner).values_list("pk", "confirmed")) == devices
    assert not Event.objects.filter(actor=owner).exclude(action="auth.login").exists()
