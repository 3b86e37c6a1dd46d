"""The file manager in a real browser: open left4dead2/cfg, edit a file, save, see the activity event."""

from .helpers import log_in, make_server, screenshot


def test_a_cfg_file_edited_and_saved_shows_up_on_disk_and_in_the_activity(
    new_page, owner, worker, hostctl_root
):
    server = make_server(owner, "Dead Center")
    cfg = hostctl_root / str(server.id) / "left4dead2" / "cfg"
    cfg.mkdir(parents=True)
    (cfg / "autoexec.cfg").write_text("sv_allow_lobby_connect_only 0\n")
    worker(0.2)
    page = new_page(enforce_csp=True)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("link", name="Files", exact=True).click()
    page.get_by_role("link", name="left4dead2/").click()
    page.get_by_role("link", name="cfg/").click()
    page.wait_for_url(f"**/servers/{server.id}/files?path=left4dead2/cfg")
    page.get_by_role("link", name="autoexec.cfg", exact=True).click()

    editor = page.locator("#editor-text")
    assert editor.input_value() == "sv_allow_lobby_connect_only 0\n"
    editor.fill("sv_allow_lobby_connect_only 0\nsv_consistency 1\n")
    assert page.locator("#editor-state").inner_text() == "Unsaved changes"
    # Leaving with unsaved changes asks first (dismissed: the page and its text stay).
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_role("link", name="Back to the folder").click()
    page.wait_for_timeout(200)
    assert asked == ["beforeunload"] and editor.input_value().endswith("sv_consistency 1\n")

    page.locator("#editor-save").click()
    page.wait_for_selector(".messages .msg")
    assert "Saved left4dead2/cfg/autoexec.cfg" in page.locator(".messages").inner_text()
    assert (cfg / "autoexec.cfg").read_text() == "sv_allow_lobby_connect_only 0\nsv_consistency 1\n"
    screenshot(page, "screenshot-file-editor.png")

    page.goto(f"/servers/{server.id}/activity")
    row = page.locator("#activity tbody tr").first
    assert "Saved a file" in row.inner_text() and "left4dead2/cfg/autoexec.cfg" in row.inner_text()


def test_an_upload_over_the_limit_is_refused_in_the_browser_before_sending(
    new_page, owner, worker, hostctl_root
):
    server = make_server(owner, "The Parish")
    (hostctl_root / str(server.id)).mkdir(parents=True)
    worker(0.2)
    page = new_page(enforce_csp=True)
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/files")
    max_bytes = int(page.locator("#files").get_attribute("data-max-bytes"))
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    too_big = {"name": "big.vpk", "mimeType": "application/octet-stream", "buffer": b"x" * (max_bytes + 1)}
    page.locator("#files-input").set_input_files(too_big)
    assert "at most 16.0 MiB can be uploaded" in page.locator("#files-upload-error").inner_text()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_timeout(200)
    assert sent == [] and not (hostctl_root / str(server.id) / "big.vpk").exists()
