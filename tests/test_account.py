"""The account pages under /account/: overview, password, your own activity."""

import re

import pytest
from django.test import Client

import activity
from activity.models import Event

pytestmark = pytest.mark.django_db

PAGES = ["/account/", "/account/password", "/account/two-factor", "/account/activity"]


# --- overview and nav ----------------------------------------------------------------------


def test_the_overview_shows_the_account_and_its_two_factor_state(owner_client, owner):
    owner.email = "owner@example.org"
    owner.save()
    page = owner_client.get("/account/").content.decode()
    for text in ("owner", "owner@example.org", "Off", "Turn on two-factor login", 'href="/account/password"'):
        assert text in page, text
    assert "required for your account" not in page


def test_the_overview_says_when_the_panel_requires_two_factor(settings, owner_client, staff):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.TWO_FACTOR_REQUIRED = "staff"
    assert "requires it for your account" not in owner_client.get("/account/").content.decode()
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client = Client()
    client.post("/accounts/login/", {"username": "staff", "password": "pw-staff"})
    client.post("/accounts/login/code/", {"code": f"{totp(device.bin_key):06d}"})
    page = client.get("/account/").content.decode()
    assert "On</span>" in page and "requires it for your account" in page


def test_every_page_has_account_and_webhooks_in_its_nav(owner_client, server):
    for path in ["/servers/", f"/servers/{server.id}", "/account/"]:
        nav = re.search(r"<nav>.*?</nav>", owner_client.get(path).content.decode(), re.S).group(0)
        assert 'href="/account/"' in nav and 'href="/webhooks/"' in nav, path


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_log_in(anon_client, path):
    response = anon_client.get(path)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


# --- password ------------------------------------------------------------------------------


def change(client, old, new, **extra):
    return client.post(
        "/account/password",
        {"old_password": old, "new_password1": new, "new_password2": new},
        **extra,
    )


def test_changing_the_password_keeps_this_session_and_ends_the_others(owner_client, owner):
    elsewhere = Client()
    elsewhere.force_login(owner)
    response = change(owner_client, "pw-owner", "a long new passphrase")
    assert response["Location"] == "/account/"
    assert b"Your password is changed" in owner_client.get("/account/").content
    assert elsewhere.get("/servers/")["Location"].startswith("/accounts/login/")
    login = Client().post("/accounts/login/", {"username": "owner", "password": "a long new passphrase"})
    assert login["Location"] == "/servers/"
    event = Event.objects.get(action="account.password_changed")
    assert (event.actor, event.detail) == (owner, {})


def test_a_wrong_old_password_or_a_weak_new_one_changes_nothing(owner_client, owner):
    response = change(owner_client, "not-it", "a long new passphrase")
    assert response.status_code == 200 and b"Your old password was entered incorrectly" in response.content
    response = change(owner_client, "pw-owner", "12345678")
    assert response.status_code == 200 and b"too common" in response.content
    owner.refresh_from_db()
    assert owner.check_password("pw-owner")
    assert not Event.objects.filter(action="account.password_changed").exists()


def test_changing_the_password_needs_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert change(client, "pw-owner", "a long new passphrase").status_code == 403
    owner.refresh_from_db()
    assert owner.check_password("pw-owner")


def test_the_old_password_change_address_leads_to_the_account_page(owner_client):
    assert owner_client.get("/accounts/password_change/")["Location"] == "/account/password"
    assert owner_client.get("/accounts/password_change/done/")["Location"] == "/account/"


# --- your activity ---------------------------------------------------------------------------


def test_the_activity_page_shows_your_own_events_only(owner_client, owner, other_owner, server):
    activity.record(
        "console.command", actor=owner, server=server, ip="198.51.100.1", detail={"command": "status"}
    )
    activity.record(
        "console.command", actor=other_owner, ip="203.0.113.9", detail={"command": "secret-other"}
    )
    activity.record("job.enqueued", actor=None, detail={"kind": "panel-itself"})
    page = owner_client.get("/account/activity").content.decode()
    assert "command: status" in page and "198.51.100.1" in page and "Owner&#x27;s server" in page
    assert "secret-other" not in page and "203.0.113.9" not in page and "panel-itself" not in page


def test_failed_logins_with_your_name_are_in_your_activity(owner_client, owner):
    Client(REMOTE_ADDR="203.0.113.66").post("/accounts/login/", {"username": "owner", "password": "guess"})
    page = owner_client.get("/account/activity").content.decode()
    assert "Failed login" in page and "203.0.113.66" in page and "guess" not in page


def shown_ids(response):
    return [int(i) for i in re.findall(r'<tr data-action="[^"]*" data-id="(\d+)"', response.content.decode())]


def pager_links(response):
    return dict(re.findall(r'<a href="\?([^"]+)">(← Newer|Older →)</a>', response.content.decode()))


def test_the_activity_pages_by_keyset_newest_first(owner_client, owner):
    for n in range(119):
        activity.record("console.command", actor=owner, detail={"n": n})
    newest_first = list(Event.objects.filter(actor=owner).order_by("-id").values_list("id", flat=True))
    assert len(newest_first) == 120  # with the fixture's login
    first = owner_client.get("/account/activity")
    assert shown_ids(first) == newest_first[:50]
    older = {label: query for query, label in pager_links(first).items()}
    assert set(older) == {"Older →"} and older["Older →"] == f"before={newest_first[49]}"

    second = owner_client.get("/account/activity?" + older["Older →"])
    assert shown_ids(second) == newest_first[50:100]
    links = {label: query for query, label in pager_links(second).items()}
    third = owner_client.get("/account/activity?" + links["Older →"].replace("&amp;", "&"))
    assert shown_ids(third) == newest_first[100:]
    assert "Older →" not in pager_links(third).values()
    back = owner_client.get("/account/activity?" + links["← Newer"].replace("&amp;", "&"))
    assert shown_ids(back) == newest_first[:50]


def test_the_activity_filters_by_action_and_keeps_the_filter_when_paging(owner_client, owner):
    for n in range(60):
        activity.record("console.command", actor=owner, detail={"n": n})
        activity.record("job.enqueued", actor=owner, detail={"n": n})
    page = owner_client.get("/account/activity?action=job.enqueued")
    assert len(shown_ids(page)) == 50
    assert set(Event.objects.filter(id__in=shown_ids(page)).values_list("action", flat=True)) == {
        "job.enqueued"
    }
    content = page.content.decode()
    assert (
        '<option value="job.enqueued" selected>' in content and '<option value="console.command">' in content
    )
    [older] = [query for query, label in pager_links(page).items() if label == "Older →"]
    rest = owner_client.get("/account/activity?" + older.replace("&amp;", "&"))
    assert len(shown_ids(rest)) == 10
    assert set(Event.objects.filter(id__in=shown_ids(rest)).values_list("action", flat=True)) == {
        "job.enqueued"
    }


@pytest.mark.parametrize("count", [3, 300])
def test_the_activity_page_costs_a_fixed_number_of_queries(
    count, owner_client, owner, server, django_assert_max_num_queries
):
    Event.objects.bulk_create(
        [Event(actor=owner, server=server, action=f"test.kind{n % 7}", detail={"n": n}) for n in range(count)]
    )
    # session, user, the actions for the filter, one page of events with their servers
    with django_assert_max_num_queries(4):
        assert owner_client.get("/account/activity").status_code == 200
    with django_assert_max_num_queries(4):
        assert owner_client.get("/account/activity?action=test.kind3&before=999999").status_code == 200


def test_a_bad_page_cursor_is_the_first_page_not_an_error(owner_client, owner):
    activity.record("console.command", actor=owner)
    for query in ("before=abc", "before=٣", "after=-1", "before=99999999999999999999999"):
        assert owner_client.get(f"/account/activity?{query}").status_code == 200, query
