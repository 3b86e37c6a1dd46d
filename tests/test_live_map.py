"""Map, max players and name on the settings page; the live map kept across restarts; pending
settings and Apply now (servers/applied.py). With real processes: test_supervisor.py (a changelevel
survives an automatic restart) and test_apply_now.py (pending disappears after Apply now)."""

from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from activity.models import Event
from jobs.models import Job, JobKind
from servers import applied, permissions
from servers.models import ActualState, Server, ServerMember

from .test_server_settings import VALID

pytestmark = pytest.mark.django_db


def member_client(server, django_user_model, *names):
    user = django_user_model.objects.create_user("helper", password="pw")
    ServerMember.objects.create(server=server, user=user, permissions=permissions.clean(list(names)))
    client = Client()
    client.force_login(user)
    return client


def on_map(server, live, *, seen_ago, set_ago=None, state=ActualState.RUNNING):
    """The server as the supervisor leaves it: on `live` since `seen_ago`, its setting changed `set_ago`."""
    now = timezone.now()
    Server.objects.filter(pk=server.pk).update(
        actual_state=state,
        map_seen=live if state == ActualState.RUNNING else "",
        last_map=live,
        last_map_at=now - seen_ago,
        map_changed_at=None if set_ago is None else now - set_ago,
    )
    server.refresh_from_db()
    return server


# --- the settings page ------------------------------------------------------------------


def test_the_map_is_chosen_from_the_campaigns_by_name(owner_client, server):
    page = unescape(owner_client.get(f"/servers/{server.id}/settings").content.decode())
    assert '<optgroup label="Dead Center">' in page and '<optgroup label="The Last Stand">' in page
    assert '<option value="c1m1_hotel" selected>Dead Center 1: c1m1_hotel</option>' in page
    assert 'name="max_players"' in page and 'name="name"' in page


def test_saving_a_map_max_players_and_name_stores_them_and_notes_when_the_map_changed(owner_client, server):
    form = {**VALID, "map": "c14m1_junkyard", "max_players": "4", "name": "Last Stand 24/7"}
    assert owner_client.post(f"/servers/{server.id}/settings", form).status_code == 302
    server.refresh_from_db()
    assert (server.map, server.max_players, server.name) == ("c14m1_junkyard", 4, "Last Stand 24/7")
    assert timezone.now() - server.map_changed_at < timedelta(minutes=1)
    event = Event.objects.get(action="settings.updated")
    assert event.detail["values"]["map"] == "c14m1_junkyard" and event.detail["values"]["max_players"] == 4
    page = owner_client.get(f"/servers/{server.id}/settings").content.decode()
    assert 'hostname "Last Stand 24/7"' in unescape(page)


def test_workshop_maps_follow_the_campaigns_and_can_be_chosen(owner_client, server):
    from addons.workshop_models import WorkshopItem, WorkshopState

    WorkshopItem.objects.create(
        server=server,
        item_id="3000000001",
        state=WorkshopState.INSTALLED,
        title="Diescraper",
        maps=["l4d2_diescraper1_apartment_361"],
        campaigns=[{"title": "Diescraper Redux", "maps": ["l4d2_diescraper1_apartment_361"]}],
    )
    page = unescape(owner_client.get(f"/servers/{server.id}/settings").content.decode())
    assert page.index('<optgroup label="The Last Stand">') < page.index(
        '<optgroup label="Workshop: Diescraper Redux">'
    )
    form = {**VALID, "map": "l4d2_diescraper1_apartment_361"}
    assert owner_client.post(f"/servers/{server.id}/settings", form).status_code == 302
    assert Server.objects.get(pk=server.pk).map == "l4d2_diescraper1_apartment_361"


def test_saving_other_settings_leaves_the_map_change_time_alone(owner_client, server):
    assert owner_client.post(f"/servers/{server.id}/settings", VALID).status_code == 302
    assert Server.objects.get(pk=server.pk).map_changed_at is None


def test_a_configured_map_that_is_no_longer_offered_stays_choosable(owner_client, server):
    Server.objects.filter(pk=server.pk).update(map="l4d2_custom_map")
    page = unescape(owner_client.get(f"/servers/{server.id}/settings").content.decode())
    assert '<optgroup label="Configured now">' in page
    assert (
        owner_client.post(f"/servers/{server.id}/settings", {**VALID, "map": "l4d2_custom_map"}).status_code
        == 302
    )


def test_a_save_does_not_overwrite_what_the_supervisor_wrote_meanwhile(owner_client, server):
    # The view loads the row, then the supervisor sees the server running, then the form saves.
    from servers.cfg.forms import ServerSettingsForm

    form = ServerSettingsForm({**VALID, "max_players": "4"}, instance=Server.objects.get(pk=server.pk))
    assert form.is_valid()
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING, map_seen="c2m1_highway")
    request = owner_client.get(f"/servers/{server.id}").wsgi_request
    form.save_and_record(request)
    server.refresh_from_db()
    assert (server.max_players, server.actual_state, server.map_seen) == (
        4,
        ActualState.RUNNING,
        "c2m1_highway",
    )


# --- the map a start uses -----------------------------------------------------------------


def test_a_restart_goes_back_to_the_map_it_was_on_when_seen_after_the_setting_changed(server):
    on_map(server, "c2m1_highway", seen_ago=timedelta(minutes=5), set_ago=timedelta(hours=1))
    assert applied.start_map(server, "restart") == "c2m1_highway"
    assert applied.start_map(server, "update") == "c2m1_highway"


def test_a_map_set_after_the_live_one_was_seen_wins(server):
    on_map(server, "c2m1_highway", seen_ago=timedelta(hours=1), set_ago=timedelta(minutes=5))
    assert applied.start_map(server, "restart") == "c1m1_hotel"


def test_a_start_after_a_stop_uses_the_setting_and_one_after_a_crash_the_live_map(server):
    on_map(server, "c2m1_highway", seen_ago=timedelta(minutes=5), state=ActualState.STOPPED)
    assert applied.start_map(server, "start") == "c1m1_hotel"
    on_map(server, "c2m1_highway", seen_ago=timedelta(minutes=5), state=ActualState.CRASHED)
    assert applied.start_map(server, "start") == "c2m1_highway"


# --- keep this map --------------------------------------------------------------------------


def test_the_settings_page_shows_the_live_map_and_keep_this_map_sets_it(owner_client, server):
    on_map(server, "c2m1_highway", seen_ago=timedelta(minutes=5))
    page = owner_client.get(f"/servers/{server.id}/settings").content.decode()
    assert "It is on <code>c2m1_highway</code> (changed in the game): a restart goes back to it." in page
    assert "Keep this map</button>" in page
    response = owner_client.post(f"/servers/{server.id}/settings/keep-map")
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}/settings"
    server.refresh_from_db()
    assert server.map == "c2m1_highway" and server.map_changed_at is not None
    event = Event.objects.get(action="settings.updated")
    assert event.detail["values"] == {"map": "c2m1_highway"} and event.detail["was"] == {"map": "c1m1_hotel"}
    assert "Keep this map" not in owner_client.get(f"/servers/{server.id}/settings").content.decode()


def test_after_the_owner_changed_the_map_the_page_says_the_next_start_uses_it(owner_client, server):
    on_map(server, "c2m1_highway", seen_ago=timedelta(hours=1), set_ago=timedelta(minutes=5))
    page = owner_client.get(f"/servers/{server.id}/settings").content.decode()
    assert "It is on <code>c2m1_highway</code>; its next start or restart uses the map above." in page


def test_keep_this_map_with_no_other_map_answers_409_and_changes_nothing(owner_client, server):
    response = owner_client.post(f"/servers/{server.id}/settings/keep-map")
    assert response.status_code == 409 and "no other map to keep" in response.content.decode()
    assert not Event.objects.filter(action="settings.updated").exists()


def test_keep_this_map_needs_settings_update(
    server, other_client, anon_client, owner_client, django_user_model
):
    on_map(server, "c2m1_highway", seen_ago=timedelta(minutes=5))
    reader = member_client(server, django_user_model, "settings.read")
    page = reader.get(f"/servers/{server.id}/settings").content.decode()
    assert "c2m1_highway" in page and "Keep this map" not in page
    assert reader.post(f"/servers/{server.id}/settings/keep-map").status_code == 403
    assert other_client.post(f"/servers/{server.id}/settings/keep-map").status_code == 404
    assert anon_client.post(f"/servers/{server.id}/settings/keep-map").status_code == 302
    assert owner_client.get(f"/servers/{server.id}/settings/keep-map").status_code == 405
    assert Server.objects.get(pk=server.pk).map == "c1m1_hotel"


# --- pending settings and Apply now -------------------------------------------------------


def running_with_its_settings(server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING, player_count=2)
    applied.record_start(server.pk, applied.snapshot(server))


def test_a_saved_change_is_pending_on_the_server_page_with_apply_now(owner_client, server):
    running_with_its_settings(server)
    assert 'id="server-pending"' not in owner_client.get(f"/servers/{server.id}").content.decode()
    form = {**VALID, "map": "c2m1_highway", "max_players": "4"}
    response = owner_client.post(f"/servers/{server.id}/settings", form, follow=True)
    assert "Apply now on its page" in response.content.decode()
    page = unescape(owner_client.get(f"/servers/{server.id}").content.decode())
    pending = page.split('id="server-pending"')[1].split("</div>")[0]
    assert "<strong>Map</strong> (c2m1_highway), <strong>Max players</strong> (4)" in pending
    assert "<strong>Join password</strong> (changed)" in pending and "letmein" not in pending
    assert "data-confirm=\"2 players on Owner's server. Restart restarts the server" in page
    assert "Apply now</button>" in pending


def test_apply_now_queues_a_restart_that_says_why(owner_client, server):
    running_with_its_settings(server)
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "restart", "apply": "1"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}"
    assert job.kind == JobKind.RESTART
    assert Event.objects.get(action="job.enqueued").detail["reason"] == "to apply the saved settings"


def test_a_member_without_power_restart_sees_pending_but_no_apply_now(server, django_user_model):
    running_with_its_settings(server)
    Server.objects.filter(pk=server.pk).update(max_players=4)
    page = (
        member_client(server, django_user_model, "server.read").get(f"/servers/{server.id}").content.decode()
    )
    assert "<strong>Max players</strong> (4)" in page and "Apply now" not in page
    assert "They apply at its next restart." in page


def test_nothing_is_pending_while_it_is_stopped_or_before_a_start_was_recorded(owner_client, server):
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.RUNNING, max_players=4)
    assert 'id="server-pending"' not in owner_client.get(f"/servers/{server.id}").content.decode()
    running_with_its_settings(server)
    Server.objects.filter(pk=server.pk).update(actual_state=ActualState.STOPPED, max_players=6)
    assert 'id="server-pending"' not in owner_client.get(f"/servers/{server.id}").content.decode()
