"""Login throttling that cannot be turned against users, the activity events it leaves,
unlocking from the admin, and password reset (accounts/, activity/, l4d2site/client_ip.py).

The cast: `owner` ("owner", password "pw-owner") plays alice, `other_owner` ("other") bob.
The failure limit is 10 (L4D2_LOGIN_FAILURE_LIMIT's default).
"""

import ast
import re
import threading

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from accounts.password_reset import MAIL_THREAD
from activity.models import Event
from l4d2site.client_ip import client_ip
from l4d2site.mail import mail_settings
from tests.processes import ROOT

pytestmark = pytest.mark.django_db

HOME = "198.51.100.10"  # where the owner usually logs in from
CAFE = "192.0.2.50"  # somewhere the owner has never logged in from
ATTACKER = "203.0.113.66"


def login(username, password, ip, path="/accounts/login/", **headers):
    """One login attempt from a fresh browser at `ip`."""
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=ip, **headers)


def logs_in(response):
    return response.status_code == 302


def locked(response):
    return response.status_code == 429 and b"Too many failed logins" in response.content


# --- F4: a success forgives only its own (user name, address) pair -------------------------


@pytest.mark.parametrize("owner_known_there", [False, True], ids=["first-visit", "known-address"])
def test_logging_in_as_bob_between_guesses_at_alice_does_not_save_alice_from_the_lock(
    owner, other_owner, owner_known_there
):
    if owner_known_there:
        assert logs_in(login("owner", "pw-owner", ATTACKER))
    for guess in range(10):
        login("owner", f"wrong-{guess}", ATTACKER)
        assert logs_in(login("other", "pw-other", ATTACKER))
    assert locked(login("owner", "pw-owner", ATTACKER))
    # bob's own logins from there carry on: none of the failures were his.
    assert logs_in(login("other", "pw-other", ATTACKER))


def test_a_success_forgives_the_failures_of_its_own_name_and_address_only(owner):
    assert logs_in(login("owner", "pw-owner", HOME))
    for _ in range(4):
        login("owner", "typo", HOME)
        login("owner", "guess", ATTACKER)
    assert logs_in(login("owner", "pw-owner", HOME))  # forgives the 4 typos at home, only them
    for _ in range(5):
        assert login("owner", "guess", ATTACKER).status_code == 200
    assert locked(login("owner", "guess", ATTACKER))  # the 10th guess from there: the first 4 still count
    for _ in range(9):
        assert login("owner", "typo", HOME).status_code == 200  # 9 more at home: under the limit there


# --- F5: the address is the one the proxy saw, not one the client wrote --------------------


def test_behind_one_proxy_rotating_a_forged_forwarded_address_still_counts_against_the_real_one(
    settings, other_owner
):
    settings.PROXY_COUNT = 1

    def via_nginx(username, password, forged):
        # nginx appends the address it saw to whatever X-Forwarded-For the client sent.
        return login(username, password, "127.0.0.1", HTTP_X_FORWARDED_FOR=f"{forged}, {ATTACKER}")

    for number in range(10):
        via_nginx(f"guess{number}", "wrong", forged=f"10.0.{number}.1")
    assert locked(via_nginx("other", "pw-other", forged="10.0.99.1"))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    assert set(Event.objects.values_list("ip", flat=True)) == {ATTACKER}
    assert logs_in(login("other", "pw-other", "127.0.0.1", HTTP_X_FORWARDED_FOR=f"{ATTACKER}, {HOME}"))


def test_without_a_proxy_count_the_forwarded_header_is_ignored(settings, other_owner):
    settings.PROXY_COUNT = 0
    for number in range(10):
        login(f"guess{number}", "wrong", ATTACKER, HTTP_X_FORWARDED_FOR=f"10.0.{number}.1")
    assert locked(login("other", "pw-other", ATTACKER, HTTP_X_FORWARDED_FOR=HOME))
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


@pytest.mark.parametrize(
    "proxy_count, forwarded, expected",
    [
        (0, "1.1.1.1, 2.2.2.2", "127.0.0.1"),
        (1, "1.1.1.1, 2.2.2.2", "2.2.2.2"),
        (2, "1.1.1.1, 2.2.2.2, 3.3.3.3", "2.2.2.2"),
        (2, "3.3.3.3", "3.3.3.3"),  # fewer entries than proxies: every one is a proxy's, take the farthest
        (1, "", "127.0.0.1"),  # reached Daphne without passing the proxy
        (1, "1.1.1.1, not-an-address", "127.0.0.1"),
        (1, "1.1.1.1,2001:DB8::0:1", "2001:db8::1"),
    ],
)
def test_client_ip_counts_trusted_proxies_from_the_right(settings, proxy_count, forwarded, expected):
    settings.PROXY_COUNT = proxy_count
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- F6: an attacker cannot lock the owner out of where they usually log in ----------------


def test_failures_from_elsewhere_do_not_lock_the_owner_out_of_a_known_address(owner):
    assert logs_in(login("owner", "pw-owner", HOME))
    for number in range(12):  # a botnet: one guess per address
        login("owner", "guess", f"203.0.113.{number}")
    for _ in range(12):  # and one address that keeps going
        login("owner", "guess", ATTACKER)
    assert logs_in(login("owner", "pw-owner", HOME))
    # Anywhere else the name is paused, for the owner as for the attacker (even with the
    # right password): that is what keeps the botnet from guessing on.
    assert locked(login("owner", "pw-owner", CAFE))
    assert locked(login("owner", "pw-owner", "203.0.113.200"))


def test_guessing_from_a_known_address_is_still_held_to_the_limit(owner):
    assert logs_in(login("owner", "pw-owner", HOME))
    for _ in range(9):
        assert login("owner", "wrong", HOME).status_code == 200
    assert locked(login("owner", "wrong", HOME))
    assert locked(login("owner", "pw-owner", HOME))


def test_one_address_trying_many_names_is_paused_for_names_it_never_logged_in_as(owner, other_owner):
    assert logs_in(login("other", "pw-other", ATTACKER))  # bob, at home behind the same address
    for number in range(10):
        login(f"guess{number}", "wrong", ATTACKER)
    assert locked(login("owner", "pw-owner", ATTACKER))
    assert logs_in(login("other", "pw-other", ATTACKER))


def test_the_admin_login_is_throttled_the_same_way(staff):
    admin_login = "/admin/login/?next=/admin/"
    assert login("staff", "pw-staff", HOME, path=admin_login)["Location"] == "/admin/"
    for number in range(10):
        response = login("staff", "guess", f"203.0.113.{number}", path=admin_login)
    assert locked(response)
    assert Event.objects.filter(action="auth.login_failed", actor=staff).count() == 10
    assert locked(login("staff", "pw-staff", CAFE, path=admin_login))
    # From where they logged in before, strangers' guesses cannot keep the (perhaps only)
    # staff account out of the admin.
    assert login("staff", "pw-staff", HOME, path=admin_login)["Location"] == "/admin/"


# --- activity events -----------------------------------------------------------------------


def test_logins_and_failed_logins_are_activity_events_with_the_account_and_address(owner):
    login("owner", "secret-guess", ATTACKER)
    login("nobody", "secret-guess", ATTACKER)
    login("owner", "pw-owner", HOME)

    events = list(Event.objects.order_by("id").values_list("action", "actor", "ip", "via", "detail"))
    assert events == [
        ("auth.login_failed", owner.pk, ATTACKER, "web", {"username": "owner"}),
        ("auth.login_failed", None, ATTACKER, "web", {"username": "nobody"}),
        ("auth.login", owner.pk, HOME, "web", {"username": "owner"}),
    ]
    assert "secret-guess" not in str(events)


def test_a_lockout_is_one_activity_event_naming_the_account_and_address(owner):
    for _ in range(14):
        login("owner", "wrong", ATTACKER)
    lockouts = Event.objects.filter(action="auth.lockout")
    assert [(e.actor, e.ip, e.detail) for e in lockouts] == [(owner, ATTACKER, {"username": "owner"})]
    assert Event.objects.filter(action="auth.login_failed").count() == 14


# --- unlocking from the admin --------------------------------------------------------------


def unlock(client, user):
    return client.post(
        "/admin/auth/user/", {"action": "unlock_logins", "_selected_action": [user.pk]}, follow=True
    )


def test_staff_unlock_a_user_from_the_users_admin(staff_client, owner):
    for _ in range(10):
        login("owner", "wrong", ATTACKER)
    assert locked(login("owner", "pw-owner", CAFE))
    response = unlock(staff_client, owner)
    assert b"Unlocked owner" in response.content
    assert logs_in(login("owner", "pw-owner", CAFE))


def test_only_staff_can_unlock(other_client, anon_client, owner):
    for _ in range(10):
        login("owner", "wrong", ATTACKER)
    for client in (other_client, anon_client):
        response = client.post(
            "/admin/auth/user/", {"action": "unlock_logins", "_selected_action": [owner.pk]}
        )
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert locked(login("owner", "pw-owner", CAFE))


# --- password reset ------------------------------------------------------------------------

RESET_PATHS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/x-y/",
    "/accounts/reset/done/",
]


@pytest.fixture
def mail_on(settings, mailoutbox, owner):
    """Password reset on, mail into Django's locmem outbox; the owner has an address."""
    settings.PASSWORD_RESET_ENABLED = True
    owner.email = "owner@example.org"
    owner.save()
    return mailoutbox


def sent(mailoutbox):
    """The outbox once every mail the panel started sending in the background is out."""
    for thread in threading.enumerate():
        if thread.name == MAIL_THREAD:
            thread.join(timeout=10)
    return mailoutbox


def ask_reset(email, ip=ATTACKER):
    return Client().post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_is_404_without_mail_settings(settings, anon_client, mailoutbox, owner):
    settings.PASSWORD_RESET_ENABLED = False
    for path in RESET_PATHS:
        assert anon_client.get(path).status_code == 404, path
    assert ask_reset("owner@example.org").status_code == 404
    assert b"Forgot your password?" not in anon_client.get("/accounts/login/").content
    assert sent(mailoutbox) == []


def test_without_mail_settings_the_panel_never_tries_a_mail_server():
    assert mail_settings("") == {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}


def test_password_reset_mails_a_link_that_sets_a_new_password(mail_on, anon_client, owner):
    assert b"Forgot your password?" in anon_client.get("/accounts/login/").content
    response = ask_reset("Owner@Example.org")
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    [message] = sent(mail_on)
    assert message.to == ["owner@example.org"]
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    form = anon_client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = anon_client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert done["Location"] == "/accounts/reset/done/"
    assert logs_in(login("owner", "a new long passphrase", HOME))
    event = Event.objects.get(action="auth.password_reset")
    assert (event.actor, event.ip, event.detail) == (
        owner,
        ATTACKER,
        {"email": "owner@example.org", "throttled": False},
    )


def test_password_reset_answers_alike_whether_or_not_the_account_exists(mail_on):
    known = ask_reset("owner@example.org", ip=HOME)
    unknown = ask_reset("nobody@example.org", ip=CAFE)
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in sent(mail_on)] == [["owner@example.org"]]


def test_password_reset_is_throttled_per_address(mail_on):
    for number in range(5):
        assert ask_reset(f"someone{number}@example.org").status_code == 302
    response = ask_reset("owner@example.org")
    assert response.status_code == 429 and b"Too many reset requests" in response.content
    assert sent(mail_on) == []
    assert ask_reset("owner@example.org", ip=HOME).status_code == 302  # another address may
    assert len(sent(mail_on)) == 1


def test_an_email_address_gets_at_most_three_reset_mails_an_hour_and_is_not_told(mail_on):
    responses = [ask_reset("owner@example.org", ip=f"203.0.113.{number}") for number in range(5)]
    assert {(r.status_code, r["Location"]) for r in responses} == {(302, "/accounts/password_reset/done/")}
    assert len(sent(mail_on)) == 3


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "smtp+tls://panel%40example.org:p%40ss@mail.example.org",
            {
                "EMAIL_HOST": "mail.example.org",
                "EMAIL_PORT": 587,
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
                "EMAIL_HOST_USER": "panel@example.org",
                "EMAIL_HOST_PASSWORD": "p@ss",
            },
        ),
        ("smtps://mail.example.org", {"EMAIL_PORT": 465, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": True}),
        ("smtp://relay.lan:2525", {"EMAIL_HOST": "relay.lan", "EMAIL_PORT": 2525, "EMAIL_USE_TLS": False}),
    ],
)
def test_the_mail_url_becomes_djangos_smtp_settings(url, expected):
    result = mail_settings(url)
    assert result["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert {key: result[key] for key in expected} == expected


def test_a_mail_url_of_an_unknown_kind_is_refused_without_echoing_its_password():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured) as error:
        mail_settings("imap://user:hunter2@mail.example.org")
    assert "hunter2" not in str(error.value)


# --- the activity app ----------------------------------------------------------------------


def test_an_event_about_a_deleted_server_stays_for_staff_with_the_servers_name(staff_client, server, owner):
    import activity

    activity.record("server.settings_updated", actor=owner, server=server)
    server.delete()
    event = Event.objects.get(action="server.settings_updated")
    assert event.server is None and event.detail == {"server_name": "Owner's server"}
    assert b"Owner&#x27;s server (deleted)" in staff_client.get("/admin/activity/event/").content


def test_record_takes_the_actor_and_the_client_address_from_the_request(settings, owner):
    import activity

    settings.PROXY_COUNT = 1
    request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.0.0.1, {HOME}")
    request.user = owner
    event = activity.record("console.command", request=request, detail={"command": "status"})
    assert (event.actor, event.ip, event.via) == (owner, HOME, "web")


def test_staff_read_the_activity_log_in_the_admin_filtered_and_searched_but_never_edit_it(
    staff_client, other_client, owner, other_owner
):
    login("owner", "pw-owner", HOME)
    login("other", "wrong", ATTACKER)
    page = staff_client.get("/admin/activity/event/?action=auth.login").content.decode()
    assert "auth.login" in page and HOME in page and ATTACKER not in page
    page = staff_client.get("/admin/activity/event/?q=other").content.decode()
    assert ATTACKER in page and HOME not in page
    event = Event.objects.first()
    assert staff_client.get("/admin/activity/event/add/").status_code == 403
    assert staff_client.post(f"/admin/activity/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=event.pk).exists()
    assert other_client.get("/admin/activity/event/").status_code == 302  # to the admin's login


def test_activity_imports_nothing_from_the_apps_above_it():
    above = {"servers", "jobs", "automation", "accounts", "api"}
    for path in (ROOT / "activity").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            assert not {name.split(".")[0] for name in names} & above, f"{path} imports {names}"
