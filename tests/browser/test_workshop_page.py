"""Workshop items in a real browser: add an item, watch its job, pick one of its maps on the
settings page, start the server on it."""

import re

from hostctl.a2s import query_info
from jobs.models import Job, JobKind
from servers.models import Server
from tests.processes import wait_until

from .helpers import log_in, make_server, wait_for_state


def test_add_a_workshop_campaign_watch_its_job_and_start_the_server_on_its_map(
    new_page, worker, owner, steam_url
):
    server = make_server(owner, "Workshop Night")
    worker(0.2, L4D2_STEAM_API_URL=steam_url, L4D2_STEAM_API_TIMEOUT="2")
    install = Job.enqueue(server, JobKind.INSTALL, owner)
    wait_until(lambda: Job.objects.get(pk=install.pk).is_finished, timeout=60)

    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/addons")
    assert page.locator("#workshop .empty").inner_text() == "No Workshop items yet."
    page.fill("#workshop-items", "https://steamcommunity.com/sharedfiles/filedetails/?id=3000000001")
    page.locator("#workshop").get_by_role("button", name="Add").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    wait_for_state(page, "succeeded")
    assert "Installed Sim Campaign One as 3000000001.vpk" in page.locator("#log-lines").inner_text()

    page.goto(f"/servers/{server.id}/addons")
    row = page.locator("#workshop-3000000001")
    assert row.locator("td").first.inner_text().startswith("Sim Campaign One")
    assert row.locator(".workshop-maps").inner_text().strip() == "Sim Campaign One: simone_m1, simone_m2"

    page.goto(f"/servers/{server.id}/settings")
    campaign = page.locator("#id_map optgroup[label='Workshop: Sim Campaign One'] option")
    assert campaign.count() == 2  # its two chapters, after the stock campaigns
    page.get_by_label("Map").select_option("simone_m1")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(f"**/servers/{server.id}/settings")
    assert Server.objects.get(pk=server.pk).map == "simone_m1"
    page.goto(f"/servers/{server.id}")
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    wait_for_state(page, "succeeded")
    assert query_info(server.port, timeout=2).map_name == "simone_m1"
    stop = Job.enqueue(server, JobKind.STOP, owner)
    wait_until(lambda: Job.objects.get(pk=stop.pk).is_finished, timeout=60)
