"""The live server page and server list in a real browser, with a real worker supervising a real srcds."""

import os
import signal

import pytest

from jobs.models import Job, JobKind
from servers.models import ActualState, Server
from tests.processes import wait_until

from .helpers import assert_not_reloaded, log_in, make_server, mark_page, screenshot

# A restarted simulated srcds takes this long to answer, so "Crashed" is on screen long
# enough for any page to show it, however loaded the machine.
BOOT = {"HOSTCTL_SIM_BOOT_SECONDS": "2", "L4D2_MONITOR_SECONDS": "1"}

# Records every state the badge shows, so a short-lived one is not missed between two looks.
RECORD_STATES = """() => {
  window.__states = [document.getElementById('server-state').dataset.state];
  new MutationObserver(() => {
    const state = document.getElementById('server-state').dataset.state;
    if (window.__states[window.__states.length - 1] !== state) window.__states.push(state);
  }).observe(document.getElementById('server-state'), {attributes: true, childList: true, subtree: true});
}"""


@pytest.fixture
def running_server(worker, owner, hostctl_root):
    """Servers installed and started by a real worker that supervises them; stopped from the panel after."""
    started = []

    def start(name):
        server = make_server(owner, name)
        if not started:
            worker(0.2, **BOOT)
        started.append(server)
        Job.enqueue(server, JobKind.INSTALL, owner)
        Job.enqueue(server, JobKind.START, owner)
        wait_until(lambda: Server.objects.get(pk=server.pk).player_count == 3, timeout=60)
        return server

    def srcds_pid(server):
        return int((hostctl_root / str(server.id) / "srcds.pid").read_text().split()[0])

    start.pid = srcds_pid
    yield start
    # A Stop, as a person would: the game servers are meant to outlive the worker otherwise.
    stops = [Job.enqueue(server, JobKind.STOP, owner) for server in started]
    wait_until(lambda: all(Job.objects.get(pk=job.pk).is_finished for job in stops), timeout=60)


def test_the_server_page_goes_running_crashed_running_without_a_reload_and_lists_players(
    new_page, running_server, owner
):
    server = running_server("No Mercy")
    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    mark_page(page)
    page.wait_for_selector("#server-conn[data-conn=live]")
    page.evaluate(RECORD_STATES)
    assert page.locator("#server-state").inner_text() == "Running"
    names = page.locator("#server-players tbody td:first-child").all_inner_texts()
    assert names == ["Coachella", "witch_please", "[TTV]Zoey"]
    assert page.locator("#server-player-count").inner_text() == "3/8"
    assert page.locator("#server-connect").inner_text() == f"connect 127.0.0.1:{server.port}"
    page.wait_for_function("document.getElementById('server-uptime').textContent.endsWith(' s')")
    screenshot(page, "screenshot-server-live.png")

    os.kill(running_server.pid(server), signal.SIGKILL)
    page.wait_for_selector("#server-state[data-state=crashed]", timeout=30_000)
    assert page.locator("#server-state").inner_text() == "Crashed"
    assert page.locator("#server-crash").is_visible()
    assert page.locator("#server-crash-action").inner_text() in ("Restart queued", "Restarting")
    page.wait_for_selector("#server-state[data-state=running]", timeout=60_000)
    # The card says how the restart ended, not "Restart queued" forever.
    page.wait_for_function("document.getElementById('server-crash-action').textContent === 'Restarted'")
    page.wait_for_function("document.querySelectorAll('#server-players tbody tr').length === 3")
    states = page.evaluate("window.__states")
    assert states[:3] == ["running", "crashed", "running"], states
    assert_not_reloaded(page)
    # The monitor's restart job shows up in the recent jobs, refreshed in place.
    page.wait_for_selector("#recent-jobs a[href^='/jobs/']")
    assert Job.objects.filter(server=server, trigger="monitor").count() == 1


def test_the_server_list_follows_states_and_players_live(new_page, running_server, owner):
    server = running_server("Dead Center")
    Server.objects.filter(pk=server.pk).update(auto_restart=False)
    page = new_page()
    log_in(page, owner)  # lands on /servers/
    mark_page(page)
    row = page.locator(f"tr[data-server-id='{server.id}']")
    page.wait_for_function(
        f"document.querySelector(\"tr[data-server-id='{server.id}'] [data-field=players]\")"
        ".textContent.includes('witch_please')"
    )
    assert row.locator("[data-field=player_count]").inner_text() == "3/8"
    os.kill(running_server.pid(server), signal.SIGKILL)
    page.wait_for_function(
        f"document.querySelector(\"tr[data-server-id='{server.id}'] [data-field=state]\")"
        ".textContent === 'Crashed'",
        timeout=30_000,
    )
    assert row.locator("[data-field=players]").inner_text() == ""
    assert Server.objects.get(pk=server.pk).actual_state == ActualState.CRASHED
    assert_not_reloaded(page)


def test_the_server_page_works_under_the_enforced_csp(new_page, running_server, owner):
    server = running_server("Swamp Fever")
    page = new_page(enforce_csp=True)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.wait_for_selector("#server-conn[data-conn=live]")
    page.locator("#auto-restart button").click()  # htmx swaps the switch in place
    page.locator("#auto-restart button", has_text="Turn on").wait_for()  # no script waits under the CSP
    wait_until(lambda: not Server.objects.get(pk=server.pk).auto_restart)


def test_stop_asks_first_while_players_are_on_and_a_no_queues_nothing(new_page, running_server, owner):
    server = running_server("Dark Carnival")
    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click('#server-actions button:text-is("Stop")')
    page.wait_for_timeout(300)
    assert asked and asked[0].startswith("3 players on Dark Carnival. Stop stops the server")
    assert not Job.objects.filter(server=server, kind=JobKind.STOP).exists()
    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click('#server-actions button:text-is("Stop")')
    page.wait_for_url("**/jobs/*")
    assert Job.objects.filter(server=server, kind=JobKind.STOP).count() == 1
