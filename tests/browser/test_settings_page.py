"""The settings page in a real browser, with a real worker and srcds: the owner picks another map,
the server page says the running server does not have it yet, and Apply now restarts it onto it."""

import pytest

from jobs.models import Job, JobKind
from servers.models import Server
from tests.processes import wait_until

from .helpers import PHONE, log_in, make_server, screenshot


@pytest.fixture
def game(worker, owner):
    """A server installed and started by a real worker (players warned for a second); stopped after."""
    worker(0.2, L4D2_WARNING_SECONDS="1", L4D2_MONITOR_SECONDS="1")
    server = make_server(owner, "Map Rotation")
    Job.enqueue(server, JobKind.INSTALL, owner)
    Job.enqueue(server, JobKind.START, owner)
    wait_until(lambda: Server.objects.get(pk=server.pk).player_count == 3, timeout=60)
    yield server
    stop = Job.enqueue(server, JobKind.STOP, owner)
    wait_until(lambda: Job.objects.get(pk=stop.pk).is_finished, timeout=60)


def test_owner_changes_the_map_and_applies_it_now(new_page, game, owner):
    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{game.id}/settings")
    assert page.locator("#id_map optgroup[label='Dark Carnival'] option").count() == 5
    page.get_by_label("Map").select_option("c2m1_highway")
    page.get_by_label("Max players").fill("4")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(f"**/servers/{game.id}/settings")
    assert "Apply now on its page" in page.locator(".messages").inner_text()
    assert page.get_by_label("Map").input_value() == "c2m1_highway"
    screenshot(page, "screenshot-settings.png")

    page.goto(f"/servers/{game.id}")
    pending = page.locator("#server-pending")
    assert "Map (c2m1_highway), Max players (4)" in pending.inner_text()
    screenshot(page, "screenshot-server-pending.png")
    asked = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    pending.get_by_role("button", name="Apply now").click()
    page.wait_for_url("**/jobs/*")
    assert asked and asked[0].startswith("3 players on Map Rotation. Restart restarts the server")
    page.wait_for_selector("#job-state[data-job-state=succeeded]", timeout=60_000)
    log = page.locator("#log-lines").inner_text()
    assert "3 player(s) on: warning in the console 1 s ahead." in log
    assert "on c2m1_highway, 4 slots" in log

    page.goto(f"/servers/{game.id}")
    page.wait_for_function("document.getElementById('server-map').textContent === 'c2m1_highway'")
    assert page.locator("#server-pending").count() == 0
    assert page.locator("#server-player-count").inner_text().endswith("/4")


def test_the_settings_page_fits_a_phone(new_page, owner):
    server = make_server(owner, "Pocket Rotation")
    page = new_page(viewport=PHONE)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/settings")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    screenshot(page, "screenshot-settings-phone.png")
