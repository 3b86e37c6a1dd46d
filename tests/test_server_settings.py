"""The settings page (server.cfg), and the RCON password: generated, revealed on a click, rotated, working."""

from html import unescape

import pytest
from django.test import Client

from servers.models import CommandKind, ConsoleCommand, GameMode, Server

from . import simservers
from .processes import free_game_port, kill_leftovers

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Owner's server",
    "map": "c1m1_hotel",
    "max_players": "8",
    "sv_password": "letmein",
    "mp_gamemode": "versus",
    "z_difficulty": "Hard",
    "sv_region": "3",
    "sv_tags": "friendly,no-mods",
    "sv_steamgroup": "103582791429521412",
    "sv_steamgroup_exclusive": "on",
    "motd_enabled": "on",
    "extra_cfg": "sv_alltalk 1\n// comment",
}


def settings_url(server):
    return f"/servers/{server.id}/settings"


def test_the_page_shows_the_form_and_the_file_the_next_start_writes_password_masked(owner_client, server):
    page = unescape(owner_client.get(settings_url(server)).content.decode())
    assert 'name="mp_gamemode"' in page and 'name="extra_cfg"' in page and "csrfmiddlewaretoken" in page
    assert 'hostname "Owner\'s server"' in page and 'rcon_password "********"' in page
    assert 'mp_gamemode "coop"' in page and "log on" in page
    assert server.rcon_password not in page


def test_saving_valid_settings_stores_them_and_the_file_shows_them(owner_client, server):
    response = owner_client.post(settings_url(server), VALID)
    assert response.status_code == 302 and response["Location"] == settings_url(server)
    server.refresh_from_db()
    assert (server.mp_gamemode, server.z_difficulty, server.sv_region) == (GameMode.VERSUS, "Hard", 3)
    assert server.sv_steamgroup_exclusive and not server.sv_allow_lobby_connect_only
    page = owner_client.get(settings_url(server)).content.decode()
    for line in (
        'mp_gamemode "versus"',
        'sv_password "letmein"',
        'sv_steamgroup_exclusive "1"',
        "sv_alltalk 1",
    ):
        assert line.replace('"', "&quot;") in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sv_password", 'x" ; rcon_password "y', "without spaces, quotes or semicolons"),
        ("mp_gamemode", "mutation4", "not one of the available choices"),
        ("sv_steamgroup", "12;quit", "Steam group IDs"),
        ("sv_tags", "a b", "Use tags of letters"),
        ("extra_cfg", "sv_alltalk 1\nrcon_password x", "Line 2: rcon_password is not allowed here"),
        ("extra_cfg", "exec ../../x", "Line 1: exec is not allowed here"),
        ("extra_cfg", "sv_alltalk 1; quit", "Line 1: one command per line"),
        ("extra_cfg", 'mapcyclefile "/etc/passwd"', "absolute paths and '..' are not allowed"),
        ("extra_cfg", 'motdfile "cfg/server.cfg"', "Line 1: motdfile is not allowed here: players are sent"),
        ("extra_cfg", "sv_cheats 1 // ; rcon_password x", "Line 1: one command per line: ';' is not allowed"),
        ("extra_cfg", "ent_fire point_servercommand command quit", "Line 1: ent_fire is not allowed here"),
        ("extra_cfg", "sm_cvar rcon_password x", "Line 1: rcon_password is not allowed here"),
        ("map", "c99m1_nowhere", "Select a valid choice. c99m1_nowhere is not one of the available choices."),
        ("map", 'c1m1_hotel" +rcon_password "x', "is not one of the available choices"),
        ("max_players", "0", "greater than or equal to 1"),
        ("max_players", "33", "less than or equal to 32"),
        ("max_players", "eight", "Enter a whole number."),
        ("name", 'x" ; rcon_password "y', "without double quotes, semicolons or line breaks"),
        ("name", "", "This field is required."),
    ],
)
def test_bad_input_shows_the_error_at_its_field_and_saves_nothing(
    owner_client, server, field, value, message
):
    before = Server.objects.values().get(pk=server.pk)
    response = owner_client.post(settings_url(server), {**VALID, field: value})
    assert response.status_code == 400
    page = unescape(response.content.decode())
    field_html = page.split(f'id="field-{field}"')[1].split('<div class="field')[0]
    assert message in field_html
    assert "Nothing was saved" in page
    assert Server.objects.values().get(pk=server.pk) == before
    # The file shown is still the saved one, not the rejected input.
    assert 'mp_gamemode "coop"' in page


def test_outsiders_get_404_and_anonymous_log_in_and_other_methods_405(
    other_client, anon_client, owner_client, server
):
    assert other_client.get(settings_url(server)).status_code == 404
    assert other_client.post(settings_url(server), VALID).status_code == 404
    assert anon_client.post(settings_url(server), VALID)["Location"].startswith("/accounts/login/")
    assert owner_client.put(settings_url(server)).status_code == 405
    assert Server.objects.get(pk=server.pk).mp_gamemode == GameMode.COOP


def test_staff_may_change_any_servers_settings(staff_client, server):
    assert staff_client.post(settings_url(server), VALID).status_code == 302
    assert Server.objects.get(pk=server.pk).mp_gamemode == GameMode.VERSUS


def test_saving_needs_the_csrf_token(owner, server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(settings_url(server), VALID).status_code == 403


# --- the RCON password ----------------------------------------------------------


def test_every_server_gets_its_own_generated_password_of_at_least_128_bits(make_server):
    first, second = make_server(), make_server()
    assert first.rcon_password != second.rcon_password
    assert len(first.rcon_password) * 6 >= 128  # URL-safe base64: 6 bits a character


def test_the_server_page_offers_reveal_and_rotate_without_the_password_in_its_html(owner_client, server):
    page = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'action="/servers/{server.id}/rcon/reveal"' in page
    assert f'action="/servers/{server.id}/rcon/rotate"' in page
    assert server.rcon_password not in page


def test_reveal_is_a_post_that_answers_with_the_password_and_is_never_cached(owner_client, server):
    assert owner_client.get(f"/servers/{server.id}/rcon/reveal").status_code == 405
    fragment = owner_client.post(f"/servers/{server.id}/rcon/reveal", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and server.rcon_password in fragment.content.decode()
    assert "no-store" in fragment["Cache-Control"] and b"<html" not in fragment.content
    page = owner_client.post(f"/servers/{server.id}/rcon/reveal")
    assert server.rcon_password in page.content.decode() and b"<html" in page.content


def test_outsiders_can_neither_reveal_nor_rotate(other_client, anon_client, server):
    for path in (f"/servers/{server.id}/rcon/reveal", f"/servers/{server.id}/rcon/rotate"):
        response = other_client.post(path, {"apply": "live"})
        assert response.status_code == 404 and server.rcon_password not in response.content.decode()
        assert anon_client.post(path)["Location"].startswith("/accounts/login/")
    assert Server.objects.get(pk=server.pk).rcon_password == server.rcon_password


def test_rotating_for_the_next_start_changes_the_password_and_sends_nothing(owner_client, server):
    response = owner_client.post(f"/servers/{server.id}/rcon/rotate", {"apply": "next_start"})
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}"
    assert Server.objects.get(pk=server.pk).rcon_password != server.rcon_password
    assert not ConsoleCommand.objects.exists()


def test_rotating_live_a_stopped_server_saves_it_for_the_next_start_and_says_so(owner_client, server):
    response = owner_client.post(f"/servers/{server.id}/rcon/rotate", {"apply": "live"}, follow=True)
    assert "it applies at the next start" in response.content.decode()
    assert Server.objects.get(pk=server.pk).rcon_password != server.rcon_password
    assert not ConsoleCommand.objects.exists()


def test_rotating_live_a_running_server_queues_a_masked_command(owner_client, server):
    Server.objects.filter(pk=server.pk).update(actual_state="running")
    owner_client.post(f"/servers/{server.id}/rcon/rotate", {"apply": "live"})
    command = ConsoleCommand.objects.get()
    assert (command.kind, command.text) == (CommandKind.RCON_PASSWORD, "rcon_password ********")


def test_rotating_is_a_post_only(owner_client, server):
    assert owner_client.get(f"/servers/{server.id}/rcon/rotate").status_code == 405
    assert Server.objects.get(pk=server.pk).rcon_password == server.rcon_password


def test_rotating_needs_the_csrf_token(owner, server):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/servers/{server.id}/rcon/rotate", {"apply": "live"}).status_code == 403
    assert Server.objects.get(pk=server.pk).rcon_password == server.rcon_password


@pytest.fixture
def started(make_server, settings, tmp_path):
    root = simservers.quick_host(settings, tmp_path / "servers")
    server = make_server(name="Rcon Target", port=free_game_port(), mp_gamemode="versus")
    simservers.start(server)
    yield server
    simservers.stop(server)
    assert not kill_leftovers(root)


@pytest.mark.slow
def test_rcon_works_with_the_generated_password_and_refuses_a_wrong_one(started):
    from rcon.exceptions import WrongPassword
    from rcon.source import Client as RconClient

    with RconClient("127.0.0.1", started.port, passwd=started.rcon_password, timeout=3) as rcon:
        assert "hostname: Rcon Target" in rcon.run("status")
        assert '"mp_gamemode" = "versus"' in rcon.run("mp_gamemode")  # the settings reached the server
    with (
        pytest.raises(WrongPassword),
        RconClient("127.0.0.1", started.port, passwd="not-the-password", timeout=3),
    ):
        pass
