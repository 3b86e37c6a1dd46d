"""The backups page in a real browser: back up now, browse the backup, restore one file."""

from backups.models import Backup

from .helpers import log_in, make_server, screenshot, wait_for_state


def test_owner_backs_up_browses_the_backup_and_restores_one_file(new_page, worker, owner, hostctl_root):
    server = make_server(owner, "Backed Up")
    cfg = hostctl_root / str(server.id) / "left4dead2" / "cfg"
    cfg.mkdir(parents=True)
    (cfg / "autoexec.cfg").write_text("sv_cheats 0\n")
    (cfg / "other.cfg").write_text("kept as it is\n")
    worker(0.2)
    page = new_page(enforce_csp=True)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("link", name="Backups").click()
    page.wait_for_url(f"**/servers/{server.id}/backups")
    page.get_by_role("button", name="Back up now").click()
    wait_for_state(page, "succeeded")

    backup = Backup.objects.get(server=server)
    page.goto(f"/servers/{server.id}/backups")
    row = page.locator(f"#backup-{backup.id}")
    assert backup.sha256[:12] in row.inner_text() and "Ready" in row.inner_text()
    screenshot(page, "screenshot-backups.png")
    row.get_by_role("link", name=backup.name).click()
    page.get_by_role("link", name="left4dead2/").click()
    page.get_by_role("link", name="cfg/").click()
    assert "autoexec.cfg" in page.locator("table.backup-contents").inner_text()

    (cfg / "autoexec.cfg").write_text("sv_cheats 1\n")
    (cfg / "other.cfg").write_text("changed since\n")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.locator("tr", has_text="autoexec.cfg").get_by_role("button", name="Restore").click()
    wait_for_state(page, "succeeded")
    assert asked and "Restore left4dead2/cfg/autoexec.cfg" in asked[0]
    assert (cfg / "autoexec.cfg").read_text() == "sv_cheats 0\n"
    assert (cfg / "other.cfg").read_text() == "changed since\n"
