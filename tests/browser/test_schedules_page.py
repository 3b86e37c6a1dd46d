"""The schedules page in a real browser: a nightly restart is created, described and given its next
run; a preset fills the cron expression, and the next runs show in the browser's own time zone."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from automation.models import Schedule

from .helpers import DESKTOP, PHONE, log_in, make_server, screenshot


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
    page.get_by_label("Time zone").fill("Europe/Berlin")
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


def test_a_preset_in_a_new_york_browser_shows_the_next_runs_in_new_york_time(new_page, owner):
    server = make_server(owner, "Weekly Survivors")
    page = new_page(viewport=DESKTOP, enforce_csp=True, timezone_id="America/New_York")
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/schedules")
    zone = page.get_by_label("Time zone")
    assert zone.input_value() == "America/New_York"  # the browser's zone, not the panel's UTC
    assert page.locator("#field-command").is_hidden()  # Restart takes no command
    page.get_by_label("Action").select_option("command")
    assert page.locator("#field-command").is_visible()
    page.get_by_label("Action").select_option("restart")
    assert page.locator("#field-command").is_hidden()

    page.get_by_label("Preset").select_option("weekly")
    page.locator("#preset-day").select_option("6")  # Saturday
    page.locator("#preset-time").fill("04:30")
    assert page.get_by_label("Cron expression").input_value() == "30 4 * * 6"
    # The preset's first choice (Monday 05:00) was previewed already: wait for this one's answer
    # (a locator's wait: the page's CSP refuses a string evaluated as script).
    expect(page.locator("#preview-description")).to_have_text("At 04:30 AM, only on Saturday")
    runs = page.locator("#preview-next time")
    texts = runs.all_inner_texts()
    assert len(texts) == 3
    for text, at in zip(texts, [runs.nth(i).get_attribute("datetime") for i in range(3)], strict=True):
        there = datetime.fromisoformat(at).astimezone(ZoneInfo("America/New_York"))
        assert text == there.strftime("%a %Y-%m-%d 04:30 %Z") and text.startswith("Sat ")
        assert text.endswith((" EST", " EDT"))
    screenshot(page, "screenshot-schedules.png")

    page.get_by_label("Name").fill("Weekend restart")
    page.get_by_role("button", name="Add schedule").click()
    page.wait_for_url(f"**/servers/{server.id}/schedules")
    schedule = Schedule.objects.get(server=server)
    assert (schedule.cron, schedule.timezone) == ("30 4 * * 6", "America/New_York")
    local = schedule.next_run_at.astimezone(ZoneInfo("America/New_York"))
    assert (local.weekday(), local.hour, local.minute) == (5, 4, 30)


def test_the_schedule_form_fits_a_phone(new_page, owner):
    server = make_server(owner, "Pocket Survivors")
    page = new_page(viewport=PHONE, timezone_id="Europe/Berlin")
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/schedules")
    page.get_by_label("Preset").select_option("nightly")
    page.locator("#preview-next time").nth(2).wait_for()
    assert page.get_by_label("Time zone").input_value() == "Europe/Berlin"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    screenshot(page, "screenshot-schedules-phone.png")
