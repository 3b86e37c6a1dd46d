"""The server console in a real browser: a command typed on the page, its answer live, under the CSP."""

from servers.models import ConsoleCommand, Server
from tests import simservers

from .helpers import assert_not_reloaded, log_in, make_server, mark_page, screenshot

HOSTILE = "<img src=x onerror=alert(1)>"


def test_owner_types_status_and_sees_the_answer_without_a_reload(
    new_page, worker, owner, hostctl_root, settings
):
    simservers.quick_host(settings, hostctl_root)
    server = make_server(owner, "Browser Console")
    simservers.start(server)
    try:
        worker(1)
        page = new_page(enforce_csp=True)  # console.js and logview.js under the real policy
        violations = []
        page.on("console", lambda msg: violations.append(msg.text) if "Security Policy" in msg.text else None)
        log_in(page, owner)
        page.goto(f"/servers/{server.id}")
        page.get_by_role("link", name="Console").click()
        page.wait_for_url(f"**/servers/{server.id}/console")
        mark_page(page)
        page.wait_for_selector("#log-conn[data-conn=live]")
        page.wait_for_selector("#console-lines li.stream-system >> text=Server started at")
        box = page.locator("#console-command")
        assert box.is_enabled() and page.locator("#console-reason").is_hidden()

        box.fill("status")
        box.press("Enter")
        page.wait_for_selector("#console-lines >> text=hostname: Browser Console")
        assert_not_reloaded(page)
        assert box.input_value() == ""
        command = page.locator("#console-lines li.stream-command").last
        assert command.locator(".text").inner_text() == "owner> status"
        assert command.locator("time.at").count() == 1 and command.locator(".seq").inner_text().isdigit()

        # Hostile output is text: it shows as typed and nothing runs.
        box.fill(f"say {HOSTILE}")
        box.press("Enter")
        page.wait_for_selector(f"#console-lines >> text=Console: {HOSTILE}")
        assert page.locator("#console-lines img").count() == 0

        # History: up recalls the last commands, down comes back to an empty box.
        box.press("ArrowUp")
        assert box.input_value() == f"say {HOSTILE}"
        box.press("ArrowUp")
        assert box.input_value() == "status"
        box.press("ArrowDown")
        box.press("ArrowDown")
        assert box.input_value() == ""

        # A refused command says why, and the stream goes on.
        box.fill("quit")
        box.press("Enter")
        page.wait_for_selector("#console-error >> text=Stop and Restart buttons")
        screenshot(page, "screenshot-console.png")

        # When the server is no longer running, the box is disabled with the reason.
        Server.objects.filter(pk=server.pk).update(actual_state="stopped")
        page.wait_for_selector("#console-command:disabled")
        assert "The server is stopped" in page.locator("#console-reason").inner_text()
        assert_not_reloaded(page)
        assert list(ConsoleCommand.objects.values_list("text", flat=True).order_by("id")) == [
            "status",
            f"say {HOSTILE}",
        ]
        assert violations == []
    finally:
        simservers.stop(server)
