"""Server pages, the servers admin, login and the site frame."""

import pytest

from jobs.models import LIFECYCLE_KINDS, Job, JobKind
from servers.models import Server

pytestmark = pytest.mark.django_db


def test_server_list_shows_only_the_owners_servers(owner_client, server, other_server):
    response = owner_client.get("/servers/")
    assert response.status_code == 200
    assert server.name.encode() in response.content.replace(b"&#x27;", b"'")
    assert b"Other&#x27;s server" not in response.content


def test_staff_server_list_shows_every_server(staff_client, server, other_server):
    response = staff_client.get("/servers/")
    assert b"Owner&#x27;s server" in response.content
    assert b"Other&#x27;s server" in response.content


def test_server_list_shows_port_and_states(owner_client, server):
    content = owner_client.get("/servers/").content.decode()
    assert str(server.port) in content
    assert "Stopped" in content and "Unknown" in content


def test_server_detail_offers_every_action_as_a_csrf_protected_post(owner_client, server):
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    for kind in LIFECYCLE_KINDS:
        assert f'name="kind" value="{kind}"' in content
    assert content.count(f'action="/servers/{server.id}/jobs"') == len(LIFECYCLE_KINDS)
    assert content.count("csrfmiddlewaretoken") >= len(LIFECYCLE_KINDS)


def test_server_detail_shows_the_ten_most_recent_jobs_and_links_the_history(owner_client, server, owner):
    jobs = [Job.objects.create(server=server, kind=JobKind.UPDATE, requested_by=owner) for _ in range(12)]
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'href="/servers/{server.id}/jobs"' in content
    table = content.split('id="recent-jobs"')[1]  # the page also links the job in progress
    shown = [j.id for j in jobs if f'href="/jobs/{j.id}"' in table]
    assert shown == [j.id for j in jobs[-10:]]


def test_simulated_host_banner_is_shown(owner_client, server):
    assert b"Simulated host" in owner_client.get("/servers/").content


def test_login_page_is_styled_and_works(anon_client, owner):
    page = anon_client.get("/accounts/login/")
    assert page.status_code == 200 and b"panel.css" in page.content
    response = anon_client.post("/accounts/login/", {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302 and response["Location"] == "/servers/"


def test_root_redirects_to_servers(owner_client):
    assert owner_client.get("/")["Location"] == "/servers/"


# The members inline's management form, with no member rows.
NO_MEMBERS = {"members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0}


def test_a_server_created_in_the_admin_appears_for_its_owner(staff_client, owner_client, owner):
    response = staff_client.post(
        "/admin/servers/server/add/",
        {
            "owner": owner.id,
            "name": "Dark Carnival",
            "port": 27100,
            "map": "c2m1_highway",
            "max_players": 8,
            **NO_MEMBERS,
        },
    )
    assert response.status_code == 302
    page = owner_client.get("/servers/").content.decode()
    assert "Dark Carnival" in page and "27100" in page


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 'x" ; rcon_password "y'),
        ("name", "two\nlines"),
        ("map", "c1m1_hotel; quit"),
        ("port", 80),
        ("port", 70000),
        ("max_players", 0),
    ],
)
def test_the_admin_refuses_values_that_could_break_the_server(staff_client, owner, field, value):
    data = {
        "owner": owner.id,
        "name": "Fine",
        "port": 27101,
        "map": "c1m1_hotel",
        "max_players": 8,
        **NO_MEMBERS,
        field: value,
    }
    response = staff_client.post("/admin/servers/server/add/", data)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors[field]
    assert not Server.objects.exists()
