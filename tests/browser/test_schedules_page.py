"""The schedules page in a real browser: a nightly restart is created, described and given its next run."""

import re
from zoneinfo import ZoneInfo

from automation.models import Schedule

from .helpers import log_in, make_server, screenshot


def test_owner_creates_a_nightly_restart_and_sees_its_description_and_next_run(new_page, owner):
    server = make_server(owner, "Nightly Survivors")
    page = new_page(enforce_csp=True)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("link", name=re.compile("active schedule")).click()
    page.wait_for_url(f"**/servers/{server.id}/schedules")
    assert "No schedules yet" in page.locator("main").inner_text()

    page.get_by_label("Name").fill("Nightly restart")
    page.get_by_label("Cron expression").fill("0 5 * * *")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Action").select_option("restart")
    page.get_by_role("button", name="Add schedule").click()
    page.wait_for_url(f"**/servers/{server.id}/schedules")

    schedule = Schedule.objects.get(server=server)
    row = page.locator(f"#schedule-{schedule.id}")
    assert row.locator(".cron-description").inner_text() == "At 05:00 AM"
    next_run = row.locator("time.next-run")
    assert re.fullmatch(r"in \d+\s(hours?|minutes?)(, \d+\s(minutes?))?", next_run.inner_text())
    local = schedule.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert local.strftime("%Y-%m-%d 05:00 CE") in row.inner_text()  # the exact time, in its own zone
    assert "Schedule “Nightly restart” saved (At 05:00 AM)." in page.locator(".messages").inner_text()
    screenshot(page, "screenshot-schedules.png")
