"""The addons page in a real browser: SourceMod installed from its button, a plugin disabled and
deleted (after a confirmation), an admin added by a Steam profile link."""

from jobs.models import Job, JobKind, JobState
from tests.processes import wait_until

from .helpers import log_in, make_server, screenshot

SM = "left4dead2/addons/sourcemod"


def test_an_owner_installs_sourcemod_manages_a_plugin_and_adds_an_admin(
    new_page, worker, owner, hostctl_root, drops
):
    server = make_server(owner, "Modded")
    worker(0.2, L4D2_SOURCEMOD_URL=f"{drops.url}/smdrop", L4D2_METAMOD_URL=f"{drops.url}/mmsdrop")
    install = Job.enqueue(server, JobKind.INSTALL, owner)
    wait_until(lambda: Job.objects.get(pk=install.pk).state == JobState.SUCCEEDED, timeout=60)
    home = hostctl_root / str(server.id)

    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("link", name="Addons").click()
    page.get_by_role("button", name="Install").click()
    page.wait_for_selector("#log-progress.is-succeeded", timeout=30_000)
    assert "SourceMod 1.12.0-git7210: 33 files installed." in page.content()

    page.goto(f"/servers/{server.id}/addons")
    assert page.locator("#mod-sourcemod").inner_text().split("\t")[1] == "1.12.0-git7210"
    page.locator("#plugin-funcommands\\.smx").get_by_role("button", name="Disable").click()
    assert page.locator("#plugin-funcommands\\.smx").inner_text().split("\t")[1] == "Disabled"
    assert (home / SM / "plugins/disabled/funcommands.smx").is_file()

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.locator("#plugin-nextmap\\.smx").get_by_role("button", name="Delete").click()
    page.wait_for_selector("text=nextmap.smx deleted.")
    assert asked == ["Delete nextmap.smx from Modded? This cannot be undone."]
    assert not (home / SM / "plugins/disabled/nextmap.smx").exists()

    page.fill("input[name=name_0]", "Zoey")
    page.fill("input[name=steam_id_0]", "https://steamcommunity.com/profiles/76561197960265761/")
    page.fill("input[name=immunity_0]", "50")
    for word in ("kick", "ban", "changemap"):
        page.locator(f"input[name=flags_0][value={word}]").check()
    page.get_by_role("button", name="Save admins").click()
    page.wait_for_selector("text=1 admin saved in admins_simple.ini.")
    assert page.locator("input[name=steam_id_0]").input_value() == "STEAM_1:1:16"
    written = (home / SM / "configs/admins_simple.ini").read_text()
    assert '"STEAM_1:1:16"\t"50:cdg"\t// Zoey\n' in written and written.startswith(
        "//\n// READ THIS CAREFULLY!"
    )
    screenshot(page, "screenshot-addons.png")
