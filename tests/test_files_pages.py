"""The file manager's pages and API (DESIGN.md §13) with a real worker serving the relay."""

import hashlib
import os
import re

import pytest
from django.test import Client

from activity.models import Event
from api.models import ApiKey

from .files_worker import file_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MAX_MB = 1  # the web side's and the worker's limit in these tests


@pytest.fixture
def home(sim_host, server, settings):
    settings.L4D2_FILE_MAX_MB = MAX_MB
    path = sim_host / str(server.id)
    (path / "left4dead2" / "cfg").mkdir(parents=True)
    (path / "left4dead2" / "motd.txt").write_text("Welcome\n")
    (path / "left4dead2" / "cfg" / "server.cfg").write_text('hostname "panel"\n')
    return path


@pytest.fixture
def worker(sim_host, tmp_path, home):
    with file_worker(sim_host, log_path=tmp_path / "worker.log", L4D2_FILE_MAX_MB=MAX_MB) as proc:
        yield proc


@pytest.fixture
def api(owner):
    secret = ApiKey.new(owner, "files", ["files.read", "files.update"])[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def editor_fields(page):
    html = page.content.decode()
    return {
        name: re.search(f'name="{name}" value="([^"]*)"', html).group(1) for name in ("sha256", "newline")
    }


def test_motd_edited_through_the_page_and_the_api_is_read_back_from_disk(
    server, home, worker, owner_client, api
):
    motd = home / "left4dead2" / "motd.txt"
    page = owner_client.get(f"/servers/{server.id}/files/edit?path=left4dead2/motd.txt")
    assert page.status_code == 200 and "Welcome" in page.content.decode()
    fields = editor_fields(page)
    assert fields["sha256"] == hashlib.sha256(b"Welcome\n").hexdigest()
    saved = owner_client.post(
        f"/servers/{server.id}/files/edit",
        {"path": "left4dead2/motd.txt", "content": "Have fun\r\nNo cheating\r\n", **fields},
    )
    assert saved.status_code == 302
    assert motd.read_bytes() == b"Have fun\nNo cheating\n"  # the form's CRLF back to the file's LF

    answer = api.put(
        f"/api/v1/servers/{server.id}/files/content?path=left4dead2/motd.txt",
        b"From the API\n",
        content_type="application/octet-stream",
    )
    assert answer.status_code == 200 and answer.json()["size"] == 13
    assert motd.read_bytes() == b"From the API\n"
    read = api.get(f"/api/v1/servers/{server.id}/files/content?path=left4dead2/motd.txt")
    digest = hashlib.sha256(b"From the API\n").hexdigest()
    assert read.content == b"From the API\n" and read["ETag"] == f'"{digest}"'
    events = Event.objects.filter(action="file.written").order_by("id")
    assert [(e.via, e.detail["path"]) for e in events] == [
        ("web", "left4dead2/motd.txt"),
        ("api", "left4dead2/motd.txt"),
    ]


def test_a_20000_entry_folder_lists_completely_on_the_page_and_in_the_api(
    server, home, worker, owner_client, api
):
    many = home / "left4dead2" / "addons"
    many.mkdir()
    for i in range(20_000):
        (many / f"map{i:05d}.vpk").touch()
    (many / "sourcemod").mkdir()
    listing = api.get(f"/api/v1/servers/{server.id}/files?path=left4dead2/addons").json()
    assert len(listing["entries"]) == 20_001
    assert listing["entries"][0] == {
        "name": "sourcemod",
        "type": "dir",
        "size": None,
        "modified": listing["entries"][0]["modified"],
    }
    page = owner_client.get(f"/servers/{server.id}/files?path=left4dead2/addons").content.decode()
    assert page.count('name="paths" value="left4dead2/addons/') == 20_001
    assert page.index("sourcemod/") < page.index("map00000.vpk") < page.index("map19999.vpk")


ESCAPES = ["../1/x", "/etc/passwd", "left4dead2/\x00motd.txt", "outside/passwd"]


def test_every_path_escape_is_refused_by_the_pages_and_the_api(
    server, home, worker, owner_client, api, tmp_path
):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd").write_text("root\n")
    os.symlink(secret, home / "outside")
    base = f"/servers/{server.id}/files"
    for path in ESCAPES:
        assert owner_client.get(f"{base}?path={path}").status_code == 400, path
        assert owner_client.get(f"{base}/edit?path={path}").status_code == 400, path
        assert owner_client.get(f"{base}/download?path={path}").status_code == 400, path
        post = owner_client.post(f"{base}/edit", {"path": path, "content": "x", "sha256": ""})
        assert post.status_code == 400, path
        assert api.get(f"/api/v1{base}/content?path={path}").status_code == 400, path
        put = api.put(f"/api/v1{base}/content?path={path}", b"x", content_type="application/octet-stream")
        assert put.status_code == 400 and "detail" in put.json(), path
        for route, body in (
            ("mkdir", {"path": path}),
            ("rename", {"from": "left4dead2/motd.txt", "to": path}),
            ("delete", {"paths": [path]}),
        ):
            assert (
                api.post(f"/api/v1{base}/{route}", body, content_type="application/json").status_code == 400
            )
    # The page was opened while cfg was a folder; a symlink put in its place is refused when used.
    opened = owner_client.get(f"{base}?path=left4dead2").content.decode()
    assert 'value="left4dead2/cfg"' in opened
    os.rename(home / "left4dead2" / "cfg", home / "left4dead2" / "cfg.old")
    os.symlink(secret, home / "left4dead2" / "cfg")
    assert owner_client.get(f"{base}/edit?path=left4dead2/cfg/passwd").status_code == 400
    upload = owner_client.post(
        f"{base}/upload", {"path": "left4dead2/cfg", "files": [_file("passwd", b"owned")]}
    )
    assert upload.status_code == 400 and "outside the server" in upload.content.decode()
    assert (secret / "passwd").read_text() == "root\n" and sorted(os.listdir(secret)) == ["passwd"]
    assert not Event.objects.filter(action__startswith="file.").exists()


def test_a_save_over_a_file_changed_since_it_was_opened_is_a_409_that_keeps_the_text(
    server, home, worker, owner_client
):
    base = f"/servers/{server.id}/files"
    fields = editor_fields(owner_client.get(f"{base}/edit?path=left4dead2/motd.txt"))
    (home / "left4dead2" / "motd.txt").write_text("Changed on the host\n")
    conflict = owner_client.post(f"{base}/edit", {"path": "left4dead2/motd.txt", "content": "Mine", **fields})
    html = conflict.content.decode()
    assert conflict.status_code == 409 and "changed on disk since it was opened" in html
    assert ">Mine</textarea>" in html and 'id="editor-reload"' in html and 'id="editor-overwrite"' in html
    assert (home / "left4dead2" / "motd.txt").read_text() == "Changed on the host\n"
    overwrite = {"path": "left4dead2/motd.txt", "content": "Mine", "overwrite": "1", **fields}
    assert owner_client.post(f"{base}/edit", overwrite).status_code == 302
    assert (home / "left4dead2" / "motd.txt").read_text() == "Mine"


def test_server_cfg_opens_read_only_and_writing_it_is_a_409_pointing_to_the_settings(
    server, home, worker, owner_client, api
):
    base = f"/servers/{server.id}/files"
    page = owner_client.get(f"{base}/edit?path=left4dead2/cfg/server.cfg").content.decode()
    assert 'id="editor-read-only"' in page and f'href="/servers/{server.id}/settings"' in page
    assert "readonly" in page and 'id="editor-save"' not in page
    post = owner_client.post(f"{base}/edit", {"path": "left4dead2/cfg/server.cfg", "content": "sv_cheats 1"})
    assert post.status_code == 409 and "Settings page" in post.content.decode()
    put = api.put(f"/api/v1{base}/content?path=left4dead2/cfg/server.cfg", b"x", content_type="text/plain")
    assert put.status_code == 409 and "Settings page" in put.json()["detail"]
    assert (home / "left4dead2" / "cfg" / "server.cfg").read_text() == 'hostname "panel"\n'


def test_files_over_the_limit_answer_413_and_nothing_is_written(server, home, worker, owner_client, api):
    big = b"x" * (MAX_MB * 1024 * 1024 + 1)
    base = f"/servers/{server.id}/files"
    put = api.put(f"/api/v1{base}/content?path=big.bin", big, content_type="application/octet-stream")
    assert put.status_code == 413 and "at most 1 MiB" in put.json()["detail"]
    upload = owner_client.post(f"{base}/upload", {"path": "", "files": [_file("big.bin", big)]})
    assert upload.status_code == 413
    (home / "huge.bin").write_bytes(big)  # made on the host: the worker refuses to carry it
    assert api.get(f"/api/v1{base}/content?path=huge.bin").status_code == 413
    assert not (home / "big.bin").exists()


def test_upload_new_folder_rename_and_delete_through_the_pages_are_recorded(
    server, home, worker, owner_client
):
    base = f"/servers/{server.id}/files"
    uploaded = owner_client.post(
        f"{base}/upload", {"path": "left4dead2", "files": [_file("host.txt", b"Host")]}
    )
    assert uploaded.status_code == 302 and (home / "left4dead2" / "host.txt").read_bytes() == b"Host"
    assert owner_client.post(f"{base}/mkdir", {"path": "left4dead2", "name": "old"}).status_code == 302
    form = owner_client.post(f"{base}/rename", {"path": "left4dead2", "paths": ["left4dead2/host.txt"]})
    assert form.status_code == 200 and 'name="to"' in form.content.decode()
    moved = {"path": "left4dead2", "paths": ["left4dead2/host.txt"], "to": "left4dead2/old/host.txt"}
    assert owner_client.post(f"{base}/rename", moved).status_code == 302
    assert (home / "left4dead2" / "old" / "host.txt").exists()
    confirm = owner_client.post(f"{base}/delete", {"path": "left4dead2", "paths": ["left4dead2/old"]})
    assert confirm.status_code == 200 and "Delete these for good?" in confirm.content.decode()
    assert (home / "left4dead2" / "old").exists()  # nothing goes before the confirmation
    gone = owner_client.post(
        f"{base}/delete", {"path": "left4dead2", "paths": ["left4dead2/old"], "confirmed": "1"}
    )
    assert gone.status_code == 302 and not (home / "left4dead2" / "old").exists()
    actions = list(Event.objects.filter(server=server).order_by("id").values_list("action", flat=True))
    assert actions == ["file.uploaded", "folder.created", "file.renamed", "file.deleted"]
    shown = owner_client.get(f"/servers/{server.id}/activity").content.decode()
    assert "Uploaded a file" in shown and "left4dead2/host.txt → left4dead2/old/host.txt" in shown


def test_the_server_page_links_to_the_files_for_those_who_may_see_them(server, owner_client):
    assert f'href="/servers/{server.id}/files"' in owner_client.get(f"/servers/{server.id}").content.decode()


def _file(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_a_member_who_may_only_read_browses_without_tools_and_names_are_shown_as_text(
    server, home, worker, django_user_model
):
    from servers.models import ServerMember

    viewer = django_user_model.objects.create_user("viewer", password="pw")
    ServerMember.objects.create(server=server, user=viewer, permissions=["server.read", "files.read"])
    (home / "left4dead2" / '<img src=x onerror="alert(1)">.txt').write_text("hi")
    client = Client()
    client.force_login(viewer)
    page = client.get(f"/servers/{server.id}/files?path=left4dead2").content.decode()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.txt" in page and "<img src=x" not in page
    assert 'name="paths"' not in page and 'id="files-upload"' not in page and "Delete…" not in page
    editor = client.get(f"/servers/{server.id}/files/edit?path=left4dead2/motd.txt").content.decode()
    assert "readonly" in editor and 'id="editor-save"' not in editor
    refused = client.post(f"/servers/{server.id}/files/mkdir", {"path": "", "name": "x"})
    assert refused.status_code == 403 and not (home / "x").exists()


def test_files_holding_the_rcon_password_need_the_permission_to_reveal_it(
    server, home, worker, django_user_model
):
    from servers.models import ServerMember

    (home / "console.log").write_text('] rcon_password "secret"\n')
    viewer = django_user_model.objects.create_user("viewer", password="pw")
    member = ServerMember.objects.create(
        server=server, user=viewer, permissions=["server.read", "files.read"]
    )
    client = Client()
    client.force_login(viewer)
    key = Client(HTTP_AUTHORIZATION=f"Bearer {ApiKey.new(viewer, 'k', ['files.read', 'rcon.reveal'])[1]}")
    base = f"/servers/{server.id}/files"
    for path in ("left4dead2/cfg/server.cfg", "console.log"):
        for url in (f"{base}/edit?path={path}", f"{base}/download?path={path}"):
            refused = client.get(url)
            assert refused.status_code == 403 and "RCON password" in refused.content.decode(), url
        assert key.get(f"/api/v1{base}/content?path={path}").status_code == 403
    member.permissions = ["server.read", "files.read", "rcon.reveal"]
    member.save()
    assert client.get(f"{base}/download?path=console.log").content == b'] rcon_password "secret"\n'
    assert key.get(f"/api/v1{base}/content?path=left4dead2/cfg/server.cfg").status_code == 200
