"""The activity page in a real browser: events recorded elsewhere appear at the top without a reload."""

import activity
from servers.models import ServerMember

from .helpers import assert_not_reloaded, log_in, make_server, mark_page, screenshot

XSS = "<img src=x onerror=window.__pwned=1>"


def test_new_events_appear_at_the_top_as_text_and_filtered_without_a_reload(new_page, owner, other_owner):
    server = make_server(owner, "Dark Carnival")
    ServerMember.objects.create(server=server, user=other_owner, permissions=["server.read", "activity.read"])
    activity.record("job.enqueued", actor=owner, server=server, detail={"kind": "start", "job": 1})
    page = new_page(enforce_csp=True)
    log_in(page, other_owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("link", name="Activity").click()
    page.wait_for_url(f"**/servers/{server.id}/activity")
    page.wait_for_selector("#activity-conn[data-conn=live]")
    mark_page(page)

    event = activity.record(
        "console.command", actor=owner, server=server, ip="198.51.100.10", detail={"command": f"say {XSS}"}
    )
    row = page.locator(f"#event-{event.id}")
    row.wait_for()
    assert page.locator("#activity tbody tr").first.get_attribute("id") == f"event-{event.id}"
    assert row.locator(".c-detail").inner_text() == f"say {XSS}"
    assert row.locator(".c-who").inner_text() == "owner" and row.locator(".c-when").inner_text() == "just now"
    assert page.evaluate("window.__pwned") is None
    assert_not_reloaded(page)
    screenshot(page, "screenshot-activity.png")

    # A filtered page adds only what its filter shows.
    page.goto(f"/servers/{server.id}/activity?action=job.")
    page.wait_for_selector("#activity-conn[data-conn=live]")
    activity.record("rcon.revealed", actor=owner, server=server)
    queued = activity.record("job.cancelled", actor=owner, server=server, detail={"kind": "start", "job": 1})
    page.locator(f"#event-{queued.id}").wait_for()
    assert page.locator("#activity tbody tr").count() == 2  # the start and the cancel, not the reveal
