"""hostctl.files: every path checked on the game host at the moment of use, writes atomic."""

from __future__ import annotations

import hashlib
import os

import pytest

from hostctl import files, srcds
from hostctl.files import BadPath, Conflict, NotFound, ServerFiles, TooLarge


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "servers" / "1"
    (path / "left4dead2" / "cfg").mkdir(parents=True)
    (path / "left4dead2" / "motd.txt").write_text("Welcome\n")
    return path


@pytest.fixture
def host(home):
    return ServerFiles(home, max_bytes=1024)


@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd").write_text("root:x:0:0\n")
    return secret


EVERY_OPERATION = [
    lambda host, path: host.list_dir(path),
    lambda host, path: host.read(path),
    lambda host, path: host.write(path, b"x"),
    lambda host, path: host.mkdir(path),
    lambda host, path: host.rename(path, "moved"),
    lambda host, path: host.rename("left4dead2/motd.txt", path),
    lambda host, path: host.delete([path]),
]
OPERATION_NAMES = ["list", "read", "write", "mkdir", "rename from", "rename to", "delete"]


@pytest.mark.parametrize("operation", EVERY_OPERATION, ids=OPERATION_NAMES)
@pytest.mark.parametrize(
    "path, why",
    [
        ("../2/motd.txt", "is not allowed"),
        ("left4dead2/../../x", "is not allowed"),
        ("/etc/passwd", "is absolute"),
        ("left4dead2/\0motd.txt", "NUL"),
    ],
    ids=["dotdot", "dotdot inside", "absolute", "nul"],
)
def test_dotdot_absolute_and_nul_are_refused_by_every_operation(host, home, operation, path, why):
    before = sorted(p.name for p in home.rglob("*"))
    with pytest.raises(BadPath, match=why) as refused:
        operation(host, path)
    assert refused.value.status == 400
    assert sorted(p.name for p in home.rglob("*")) == before


@pytest.mark.parametrize("operation", EVERY_OPERATION, ids=OPERATION_NAMES)
@pytest.mark.parametrize("link_kind", ["absolute", "relative", "through a folder"])
def test_symlinks_leading_outside_are_refused_by_every_operation(host, home, outside, operation, link_kind):
    if link_kind == "absolute":
        os.symlink(outside, home / "escape")
        path = "escape/passwd"
    elif link_kind == "relative":
        os.symlink("../../secret", home / "escape")
        path = "escape/passwd"
    else:
        os.symlink(outside, home / "left4dead2" / "cfg" / "escape")
        path = "left4dead2/cfg/escape/passwd"
    with pytest.raises(BadPath, match="leads outside the server's folder"):
        operation(host, path)
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


def test_a_symlink_swapped_in_after_the_listing_is_refused_when_used(host, home, outside):
    listed = host.list_dir("left4dead2")
    assert [e["name"] for e in listed["entries"]] == ["cfg", "motd.txt"]
    # Between the listing and the next request, someone on the host swaps a folder for a link.
    os.rename(home / "left4dead2" / "cfg", home / "left4dead2" / "cfg.old")
    os.symlink(outside, home / "left4dead2" / "cfg")
    for operation in (
        lambda: host.list_dir("left4dead2/cfg"),
        lambda: host.read("left4dead2/cfg/passwd"),
        lambda: host.write("left4dead2/cfg/passwd", b"owned"),
        lambda: host.write("left4dead2/cfg/new.cfg", b"x"),
        lambda: host.mkdir("left4dead2/cfg/new"),
        lambda: host.rename("left4dead2/motd.txt", "left4dead2/cfg/motd.txt"),
        lambda: host.delete(["left4dead2/cfg/passwd"]),
    ):
        with pytest.raises(BadPath, match="outside"):
            operation()
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]


def test_a_link_itself_may_be_renamed_and_deleted_without_touching_what_it_leads_to(host, home, outside):
    os.symlink(outside, home / "escape")
    host.rename("escape", "left4dead2/escape")
    host.delete(["left4dead2/escape"])
    assert not os.path.lexists(home / "left4dead2" / "escape")
    assert (outside / "passwd").exists()


def test_symlinks_that_stay_inside_are_followed(host, home):
    os.symlink("left4dead2/cfg", home / "cfg")
    os.symlink(str(home / "left4dead2" / "motd.txt"), home / "motd")
    host.write("cfg/autoexec.cfg", b"exec x\n")
    assert (home / "left4dead2" / "cfg" / "autoexec.cfg").read_bytes() == b"exec x\n"
    assert host.read("motd")[0] == b"Welcome\n"
    names = {e["name"]: e["type"] for e in host.list_dir("")["entries"]}
    assert names == {"left4dead2": "dir", "cfg": "dir", "motd": "file"}


def test_a_write_replaces_the_file_atomically_keeping_its_mode(host, home):
    motd = home / "left4dead2" / "motd.txt"
    motd.chmod(0o600)
    inode = motd.stat().st_ino
    described = host.write("left4dead2/motd.txt", b"New day\n")
    assert motd.read_bytes() == b"New day\n" and motd.stat().st_ino != inode
    assert motd.stat().st_mode & 0o777 == 0o600
    assert described["sha256"] == hashlib.sha256(b"New day\n").hexdigest() and described["size"] == 8
    assert sorted(p.name for p in motd.parent.iterdir()) == ["cfg", "motd.txt"]  # no temp file left


def test_a_write_over_a_changed_file_is_a_conflict_and_writes_nothing(host, home):
    opened = hashlib.sha256(b"Welcome\n").hexdigest()
    (home / "left4dead2" / "motd.txt").write_text("Changed by someone else\n")
    with pytest.raises(Conflict, match="changed on disk since it was opened"):
        host.write("left4dead2/motd.txt", b"mine", expected_sha256=opened)
    assert (home / "left4dead2" / "motd.txt").read_text() == "Changed by someone else\n"


def test_server_cfg_is_the_panels_and_cannot_be_written_or_moved(host, home):
    spec_cfg = srcds.files_for(_spec(home)).cfg_dir / "server.cfg"
    assert spec_cfg.relative_to(home).as_posix() == files.SERVER_CFG  # where hostctl writes it
    (home / files.SERVER_CFG).write_text('hostname "x"\n')
    os.symlink(files.SERVER_CFG, home / "alias.cfg")
    for operation in (
        lambda: host.write(files.SERVER_CFG, b"sv_cheats 1"),
        lambda: host.write("alias.cfg", b"sv_cheats 1"),
        lambda: host.rename(files.SERVER_CFG, "x.cfg"),
        lambda: host.rename("left4dead2/motd.txt", files.SERVER_CFG),
    ):
        with pytest.raises(Conflict, match="Settings page"):
            operation()
    assert (home / files.SERVER_CFG).read_text() == 'hostname "x"\n'
    assert host.read(files.SERVER_CFG)[0] == b'hostname "x"\n'  # reading it is fine


def test_files_over_the_limit_are_refused_both_ways(host, home):
    (home / "big.bin").write_bytes(b"x" * 1025)
    with pytest.raises(TooLarge):
        host.read("big.bin")
    with pytest.raises(TooLarge):
        host.write("new.bin", b"x" * 1025)
    assert not (home / "new.bin").exists()


def test_a_fifo_is_not_read(host, home):
    os.mkfifo(home / "console.fifo")
    with pytest.raises(BadPath, match="not a regular file"):
        host.read("console.fifo")


def test_rename_mkdir_and_delete_say_what_is_in_the_way(host, home):
    with pytest.raises(Conflict, match="exists already"):
        host.mkdir("left4dead2/cfg")
    with pytest.raises(Conflict, match="exists already"):
        host.rename("left4dead2/motd.txt", "left4dead2/cfg")
    with pytest.raises(NotFound):
        host.delete(["left4dead2/nothing.txt"])
    with pytest.raises(BadPath, match="cannot be deleted"):
        host.delete([""])
    with pytest.raises(BadPath, match="inside itself"):
        host.rename("left4dead2", "left4dead2/cfg/inner")
    assert (home / "left4dead2" / "motd.txt").exists()


def test_a_folder_lists_every_entry_folders_first_then_by_name(host, home):
    folder = home / "many"
    folder.mkdir()
    for i in range(3000):
        (folder / f"f{i:05d}.txt").touch()
    for name in ("b", "A"):
        (folder / name).mkdir()
    entries = host.list_dir("many")["entries"]
    assert len(entries) == 3002
    assert [e["name"] for e in entries[:3]] == ["A", "b", "f00000.txt"]
    assert entries[2] == {"name": "f00000.txt", "type": "file", "size": 0, "modified": entries[2]["modified"]}


def test_operations_map_to_the_relay_names(host, home):
    result, data = files.perform(host, "read", {"path": "left4dead2/motd.txt"}, None)
    assert data == b"Welcome\n" and result["path"] == "left4dead2/motd.txt"
    os.chmod(home / "left4dead2" / "cfg", 0o500)
    try:
        if os.geteuid() != 0:  # root writes anyway
            with pytest.raises(files.FileError, match="could not do it") as failed:
                files.perform(host, "mkdir", {"path": "left4dead2/cfg/x"}, None)
            assert failed.value.status == 500
    finally:
        os.chmod(home / "left4dead2" / "cfg", 0o750)


def _spec(home):
    from hostctl.l4d2 import ServerSpec

    return ServerSpec(id=1, install_dir=home, port=27015)


@pytest.mark.parametrize("name", ["console.log", "console.log.1", "srcds.pid"])
def test_the_panels_own_files_cannot_be_written_renamed_or_deleted(host, home, name):
    (home / name).write_text("kept by the panel\n")
    for operation in (
        lambda: host.write(name, b"x"),
        lambda: host.rename(name, "mine.txt"),
        lambda: host.rename("left4dead2/motd.txt", name),
        lambda: host.delete(["left4dead2/motd.txt", name]),
    ):
        with pytest.raises(Conflict, match="kept by the panel"):
            operation()
    assert (home / name).read_text() == "kept by the panel\n"
    assert (home / "left4dead2" / "motd.txt").exists()  # a refusal in the list deletes nothing
