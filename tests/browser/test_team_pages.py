"""Sharing a server in a real browser: an owner invites a friend as a Moderator; the friend joins,
uses the console and sees what they may not do, greyed out with the reason."""

from servers.models import ServerMember
from tests import simservers

from .helpers import log_in, make_server, screenshot

PASSWORD = "A-friendly-pass-42"


def test_an_owner_invites_a_moderator_who_joins_sends_status_and_sees_install_greyed_out(
    new_page, worker, owner, hostctl_root, settings
):
    simservers.quick_host(settings, hostctl_root)
    server = make_server(owner, "Shared Campaign")
    simservers.start(server)
    try:
        worker(1)
        page = new_page(enforce_csp=True)  # members.js under the real policy
        log_in(page, owner)
        page.goto(f"/servers/{server.id}")
        page.get_by_role("link", name="Members").click()
        page.wait_for_url(f"**/servers/{server.id}/members")
        page.select_option("#id_preset", "moderator")
        # The preset ticks its boxes (and the server applies the preset whatever they show).
        assert page.locator('input[value="console.command"]').is_checked()
        assert not page.locator('input[value="game.install"]').is_checked()
        page.get_by_role("button", name="Create an invite link instead").click()
        link = page.locator("#invite-link").input_value()
        screenshot(page, "screenshot-invite.png")

        friend = new_page()
        friend.goto(link)
        assert "Join Shared Campaign" in friend.locator("h1").inner_text()
        friend.fill("input[name=username]", "friend")
        friend.fill("input[name=password1]", PASSWORD)
        friend.fill("input[name=password2]", PASSWORD)
        friend.get_by_role("button", name="Create my account and join").click()
        friend.wait_for_url(f"**/servers/{server.id}")
        assert ServerMember.objects.get(user__username="friend").role == "Moderator"

        install = friend.locator('#server-actions form:has(input[value="install"]) button')
        assert install.is_disabled()
        assert "You may not install or update this server." in friend.locator("#why-install").inner_text()
        assert friend.locator('#server-actions form:has(input[value="stop"]) button').is_enabled()
        screenshot(friend, "screenshot-member.png")

        friend.get_by_role("link", name="Console").click()
        friend.wait_for_url(f"**/servers/{server.id}/console")
        friend.wait_for_selector("#log-conn[data-conn=live]")
        box = friend.locator("#console-command")
        box.fill("status")
        box.press("Enter")
        friend.wait_for_selector("#console-lines >> text=hostname: Shared Campaign")
        assert friend.locator("#console-lines li.stream-command").last.locator(".text").inner_text() == (
            "friend> status"
        )

        # The owner sees the friend in the list with the role.
        page.goto(f"/servers/{server.id}/members")
        row = page.locator('tr[data-member="friend"]')
        assert "Moderator" in row.inner_text()
    finally:
        simservers.stop(server)
