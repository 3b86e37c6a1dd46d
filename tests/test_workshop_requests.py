"""Asking for Workshop items through the API and the addons page; what is queued, refused and
recorded; the update after a game update; the map groups. (The jobs themselves run in
tests/test_workshop.py, with a real worker.)"""

import pytest

from activity.models import Event
from addons import workshop
from addons.models import WorkshopItem, WorkshopState
from api.models import ApiKey
from jobs.models import Job, JobKind, JobState, JobTrigger
from servers import permissions
from servers.models import ActualState, ServerMember

pytestmark = pytest.mark.django_db

API = "/api/v1/servers/{}/addons"


@pytest.fixture
def game(server):
    server.actual_state = ActualState.STOPPED
    server.save(update_fields=["actual_state"])
    return server


@pytest.fixture
def api(client, owner):
    key = ApiKey.new(owner, "k", sorted(permissions.ALL))[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    class Api:
        def post(self, path, body):
            return client.post(path, body, content_type="application/json", **auth)

        def delete(self, path):
            return client.delete(path, **auth)

        def get(self, path):
            return client.get(path, **auth)

    return Api()


def installed(server, item_id, **fields):
    fields = {"title": f"Item {item_id}", "size": 1000, "time_updated": 1700000000, **fields}
    return WorkshopItem.objects.create(
        server=server, item_id=item_id, state=WorkshopState.INSTALLED, **fields
    )


def test_the_api_queues_a_workshop_job_with_the_items_and_answers_202_with_it(api, game, owner):
    link = "https://steamcommunity.com/sharedfiles/filedetails/?id=3000000002"
    answer = api.post(
        API.format(game.id) + "/workshop", {"items": ["3000000001", link], "collection": 3000000100}
    )
    assert answer.status_code == 202
    job = Job.objects.get(pk=answer.json()["job"]["id"])
    assert (job.kind, job.state, job.requested_by) == (JobKind.WORKSHOP, JobState.QUEUED, owner)
    assert job.params == {"action": "add", "items": ["3000000001", "3000000002"], "collection": "3000000100"}
    assert list(game.workshop_items.values_list("item_id", "state")) == [
        ("3000000001", WorkshopState.QUEUED),
        ("3000000002", WorkshopState.QUEUED),
    ]
    event = Event.objects.get(action="workshop.added")
    assert (event.via, event.detail["items"], event.detail["job"]) == ("api", job.params["items"], job.id)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"items": ["3000000001", "rm -rf"]}, 400, "'rm' is neither a Workshop item id nor a link to one"),
        ({"items": [], "collection": None}, 400, "Give at least one Workshop item or a collection"),
        ({"items": [], "collection": "https://evil.example/?id=1"}, 400, "is neither a collection id"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_queues_nothing(api, game, body, status, detail):
    answer = api.post(API.format(game.id) + "/workshop", body)
    assert answer.status_code == status
    assert detail in answer.json()["detail"]
    assert not Job.objects.exists() and not WorkshopItem.objects.exists()


def test_a_server_not_installed_is_refused_with_409(api, server):
    server.actual_state = ActualState.NOT_INSTALLED
    server.save(update_fields=["actual_state"])
    answer = api.post(API.format(server.id) + "/workshop", {"items": ["1"]})
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"Workshop of {server.name} is not possible now: Install it first."


def test_delete_queues_the_removal_of_a_known_item_and_404s_an_unknown_one(api, game):
    installed(game, "3000000001")
    assert api.delete(API.format(game.id) + "/workshop/42").json() == {
        "detail": f"Workshop item 42 is not on {game.name}."
    }
    answer = api.delete(API.format(game.id) + "/workshop/3000000001")
    assert answer.status_code == 202
    assert Job.objects.get().params == {"action": "remove", "items": ["3000000001"]}
    assert Event.objects.filter(action="workshop.removed").count() == 1


def test_get_addons_lists_the_installed_items_with_their_maps(api, game):
    installed(game, "3000000001", title="Sim Campaign One", maps=["simone_m1", "simone_m2"])
    WorkshopItem.objects.create(
        server=game, item_id="3000000009", state=WorkshopState.FAILED, error="private"
    )
    assert api.get(API.format(game.id)).json()["workshop"] == [
        {"id": "3000000001", "title": "Sim Campaign One", "size": 1000, "maps": ["simone_m1", "simone_m2"]}
    ]


def test_the_addons_page_lists_items_and_offers_the_forms_only_to_who_may_change_them(
    client, owner_client, game, django_user_model
):
    installed(game, "3000000001", campaigns=[{"title": "Sim One", "maps": ["simone_m1"]}], maps=["simone_m1"])
    page = owner_client.get(f"/servers/{game.id}/addons").content.decode()
    assert "Sim One</strong>: <code>simone_m1</code>" in page
    assert 'name="items"' in page and "Update all" in page and "Remove" in page
    reader = django_user_model.objects.create_user("reader", password="pw")
    ServerMember.objects.create(server=game, user=reader, permissions=["server.read", "addons.read"])
    client.force_login(reader)
    page = client.get(f"/servers/{game.id}/addons").content.decode()
    assert "simone_m1" in page and 'name="items"' not in page and "Remove" not in page


def test_the_page_form_queues_the_job_and_shows_it(owner_client, game):
    response = owner_client.post(f"/servers/{game.id}/addons/workshop", {"items": "3000000001\n3000000002"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.params["items"] == ["3000000001", "3000000002"]
    assert Event.objects.get(action="workshop.added").via == "web"


def test_update_all_sends_the_known_steam_times_and_does_nothing_without_items(owner_client, game):
    response = owner_client.post(f"/servers/{game.id}/addons/workshop/update", follow=True)
    assert b"There are no installed Workshop items to update." in response.content
    installed(game, "3000000002", time_updated=5)
    installed(game, "3000000001", time_updated=7)
    owner_client.post(f"/servers/{game.id}/addons/workshop/update")
    assert Job.objects.get().params == {
        "action": "update",
        "items": ["3000000001", "3000000002"],
        "known": {"3000000001": 7, "3000000002": 5},
    }
    assert Event.objects.filter(action="workshop.updated").count() == 1


def test_a_successful_game_update_queues_the_workshop_update(game, owner):
    installed(game, "3000000001")
    update = Job.objects.create(server=game, kind=JobKind.UPDATE, state=JobState.RUNNING, requested_by=owner)
    update.finish(0, cancelled=False, say=lambda text: None)
    follow = Job.objects.get(kind=JobKind.WORKSHOP)
    assert (follow.trigger, follow.params["action"]) == (JobTrigger.MONITOR, "update")
    failed = Job.objects.create(server=game, kind=JobKind.UPDATE, state=JobState.RUNNING, requested_by=owner)
    failed.finish(1, cancelled=False, say=lambda text: None)
    assert Job.objects.filter(kind=JobKind.WORKSHOP).count() == 1


def test_map_groups_are_the_campaigns_then_the_maps_outside_any(game):
    installed(
        game,
        "1",
        title="Pack",
        maps=["a_m1", "a_m2", "lone"],
        campaigns=[{"title": "A", "maps": ["a_m1", "a_m2"]}],
    )
    WorkshopItem.objects.create(server=game, item_id="2", maps=["queued_map"])  # not installed yet
    assert workshop.map_groups(game) == [
        ("Workshop: A", [("a_m1", "A 1: a_m1"), ("a_m2", "A 2: a_m2")]),
        ("Workshop: Pack", [("lone", "Pack: lone")]),
    ]


def test_an_item_whose_job_ended_before_it_shows_as_not_installed(owner_client, game, owner):
    job = workshop.add(game, owner, ["3000000001"])
    job.request_cancel(owner)
    page = owner_client.get(f"/servers/{game.id}/addons").content.decode()
    assert "Not installed: its job ended first" in page
