"""Backup archives (hostctl.archive, hostctl.restore): what goes in, what comes out, what is
refused, files that change while they are read, and swaps that are all or nothing."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from hostctl import archive, backups, restore
from hostctl.errors import HostError
from hostctl.process import CancelToken


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every folder, by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = "dir" if path.is_dir() else path.read_bytes()
    return found


def make(root, lines, ignore=backups.DEFAULT_IGNORE):
    out = io.BytesIO()
    made = archive.create(root, out, ignore=archive.ignore_spec(ignore.splitlines()), sink=lines)
    out.seek(0)
    return made, out


SERVER = {
    "srcds_run": b"#!/bin/sh\n",
    "steam_appid.txt": b"550\n",
    "bin/engine.so": b"\x7fELF" * 100,
    "steamapps/appmanifest_222860.acf": b'"AppState" {}',
    "left4dead2/pak01_dir.vpk": os.urandom(4096),
    "left4dead2/gameinfo.txt": b"GameInfo",
    "left4dead2/cfg/server.cfg": b'hostname "panel writes this"\n',
    "left4dead2/cfg/autoexec.cfg": b"sv_cheats 0\n",
    "left4dead2/motd.txt": b"Welcome!\n",
    "left4dead2/addons/sourcemod/configs/admins_simple.ini": b'"STEAM_1:0:1" "99:z"\n',
    "left4dead2/addons/sourcemod/data/stats.sqlite": os.urandom(20000),
    "left4dead2/addons/sourcemod/logs/L2026.log": b"log\n",
    "console.log": b"srcds said things\n",
}


def test_the_default_scope_keeps_the_owners_files_and_leaves_out_the_games(tmp_path, lines):
    made, out = make(tree(tmp_path / "srv", SERVER), lines)
    kept = {m.path for m in made.members if m.type == "file"}
    assert kept == {
        "left4dead2/cfg/autoexec.cfg",
        "left4dead2/motd.txt",
        "left4dead2/addons/sourcemod/configs/admins_simple.ini",
        "left4dead2/addons/sourcemod/data/stats.sqlite",
    }
    assert [m.path for m in archive.list_members(out)] == [m.path for m in made.members]
    assert made.size == len(out.getvalue()) and len(made.sha256) == 64


def test_an_owners_patterns_extend_the_scope(tmp_path, lines):
    root = tree(tmp_path / "srv", SERVER)
    made, _ = make(root, lines, backups.scope("*.sqlite\n!left4dead2/cfg/server.cfg"))
    kept = {m.path for m in made.members if m.type == "file"}
    assert "left4dead2/addons/sourcemod/data/stats.sqlite" not in kept
    assert "left4dead2/cfg/server.cfg" in kept  # a negation brings one back


def test_backup_and_unpack_give_back_every_byte_links_and_modes(tmp_path, lines):
    root = tree(
        tmp_path / "srv", {"a/b/c.txt": b"c" * 3, "big.bin": os.urandom(archive.IN_MEMORY + 5), "e": b""}
    )
    (root / "a" / "link").symlink_to("b/c.txt")
    (root / "e").chmod(0o750)
    made, out = make(root, lines, "")
    dest = tmp_path / "dest"
    dest.mkdir()
    members, digest = archive.extract(out, dest, total=made.size, sink=lines)
    assert snapshot(dest) == snapshot(root) and digest == made.sha256
    assert os.readlink(dest / "a" / "link") == "b/c.txt" and (dest / "e").stat().st_mode & 0o777 == 0o750
    assert lines.of("progress")[-1] == "100"


def writing_during_reads(monkeypatch, path, times):
    """Append to `path` at the end of each of its first `times` reads (as srcds writing its log);
    returns the list of reads seen."""
    real_read, reads = archive._read, []

    def read_while_written(fd, limit, progress, cancel):
        yield from real_read(fd, limit, progress, cancel)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            reads.append(limit)
            if len(reads) <= times:
                with open(path, "ab") as f:
                    f.write(b" and more")

    monkeypatch.setattr(archive, "_read", read_while_written)
    return reads


# Small files are read into memory first; large ones stream in a zstd frame of their own
# that is cut off again when the file moved.
SIZES = pytest.mark.parametrize("in_memory", [1 << 20, 8], ids=["small file", "large file"])


@SIZES
def test_a_file_that_changes_while_read_is_read_again(tmp_path, lines, monkeypatch, in_memory):
    monkeypatch.setattr(archive, "IN_MEMORY", in_memory)
    root = tree(tmp_path / "srv", {"a.cfg": b"before", "cfg.txt": b"old contents", "z.cfg": b"after"})
    reads = writing_during_reads(monkeypatch, root / "cfg.txt", times=1)
    made, out = make(root, lines, "")
    assert len(reads) == 2 and made.skipped == [] and made.size == len(out.getvalue())
    assert [m.path for m in archive.list_members(out)] == ["a.cfg", "cfg.txt", "z.cfg"]
    out.seek(0)
    dest = tmp_path / "dest"
    dest.mkdir()
    archive.extract(out, dest, total=made.size, sink=lines)
    assert snapshot(dest) == snapshot(root) and (dest / "cfg.txt").read_bytes() == b"old contents and more"


@SIZES
def test_a_file_that_never_holds_still_is_named_and_left_out(tmp_path, lines, monkeypatch, in_memory):
    monkeypatch.setattr(archive, "IN_MEMORY", in_memory)
    root = tree(tmp_path / "srv", {"busy.log": b"x" * 100, "keep.cfg": b"kept"})
    writing_during_reads(monkeypatch, root / "busy.log", times=archive.TRIES)
    made, out = make(root, lines, "")
    assert made.skipped == ["busy.log"] and [m.path for m in archive.list_members(out)] == ["keep.cfg"]
    assert "Not backed up: busy.log kept changing while it was read (3 tries)" in lines.of("stderr")


def test_gnu_tar_and_zstd_read_the_panels_archives(tmp_path, lines, monkeypatch):
    if shutil.which("zstd") is None:
        pytest.skip("zstd is not installed")
    monkeypatch.setattr(archive, "IN_MEMORY", 8)  # a frame per file, as large files get
    root = tree(tmp_path / "srv", {"a/b.cfg": b"b" * 100, "c.txt": b"c"})
    made, out = make(root, lines, "")
    (tmp_path / "x.tar.zst").write_bytes(out.getvalue())
    (tmp_path / "dest").mkdir()
    subprocess.run(f"zstd -qdc {tmp_path}/x.tar.zst | tar -xf - -C {tmp_path}/dest", shell=True, check=True)
    assert snapshot(tmp_path / "dest") == snapshot(root)


def test_a_link_leading_outside_is_not_backed_up(tmp_path, lines):
    root = tree(tmp_path / "srv", {"a.cfg": b"a"})
    (root / "out").symlink_to("/etc/passwd")
    (root / "up").symlink_to("../../x")
    made, _ = make(root, lines, "")
    assert sorted(made.skipped) == ["out", "up"] and [m.path for m in made.members] == ["a.cfg"]


def evil(*members) -> io.BytesIO:
    """A tar.zst holding the given (TarInfo, data) members."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return io.BytesIO(zstandard.ZstdCompressor().compress(raw.getvalue()))


def member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize(
    "info",
    [
        member("/etc/cron.d/x"),
        member("../outside.txt"),
        member("a/../../outside.txt"),
        member("link", tarfile.SYMTYPE, "/etc"),
        member("a/link", tarfile.SYMTYPE, "../../etc"),
        member("hard", tarfile.LNKTYPE, "a.cfg"),
        member("dev", tarfile.CHRTYPE),
        member("fifo", tarfile.FIFOTYPE),
    ],
    ids=[
        "absolute",
        "dotdot",
        "dotdot inside",
        "absolute link",
        "link climbing out",
        "hard link",
        "device",
        "fifo",
    ],
)
def test_unpacking_refuses_a_member_that_escapes_or_is_no_file(tmp_path, lines, info):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(archive.Unsafe):
        archive.extract(evil((info, b"x")), dest, total=1, sink=lines)
    assert not (tmp_path / "outside.txt").exists()


def test_unpacking_refuses_a_write_through_a_link_it_just_made(tmp_path, lines):
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "inner").mkdir()
    source = evil((member("inner/l", tarfile.SYMTYPE, ".."), b""), (member("inner/l/../x"), b"x"))
    with pytest.raises(archive.Unsafe):
        archive.extract(source, dest, total=1, sink=lines)


def restored(root, made, out, lines, **options):
    staging, members = restore.unpack(root, out, total=made.size, sha256=made.sha256, sink=lines)
    restore.swap_in(root, staging, members, ignore=archive.ignore_spec([]), sink=lines, **options)


def test_a_swap_brings_back_changed_and_deleted_files_and_keeps_new_ones_unless_truncating(tmp_path, lines):
    root = tree(tmp_path / "srv", {"cfg/a.cfg": b"a", "cfg/b.cfg": b"b", "motd.txt": b"hi"})
    before = snapshot(root)
    made, out = make(root, lines, "")
    (root / "cfg" / "a.cfg").write_bytes(b"changed")
    (root / "motd.txt").unlink()
    tree(root, {"cfg/new.cfg": b"new", "extra/deep/x": b"x"})
    restored(root, made, out, lines)
    assert snapshot(root) == {
        **before,
        "cfg/new.cfg": b"new",
        "extra": "dir",
        "extra/deep": "dir",
        "extra/deep/x": b"x",
    }
    out.seek(0)
    restored(root, made, out, lines, truncate=True)
    assert snapshot(root) == before
    assert not any(p.name.startswith(".srv.") for p in tmp_path.iterdir())


def test_a_damaged_archive_changes_nothing(tmp_path, lines):
    root = tree(tmp_path / "srv", {"a.cfg": b"a"})
    made, out = make(root, lines, "")
    (root / "a.cfg").write_bytes(b"changed")
    with pytest.raises(HostError, match="damaged"):
        restore.unpack(root, out, total=made.size, sha256="0" * 64, sink=lines)
    assert (root / "a.cfg").read_bytes() == b"changed" and not (tmp_path / ".srv.restore").exists()


def test_a_cancelled_unpack_changes_nothing_and_leaves_no_staging(tmp_path, lines):
    root = tree(tmp_path / "srv", {"a.cfg": b"a", "big": os.urandom(4 * archive.CHUNK)})
    made, out = make(root, lines, "")
    (root / "a.cfg").write_bytes(b"changed")
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(archive.Cancelled):
        restore.unpack(root, out, total=made.size, sha256=made.sha256, sink=lines, cancel=cancel)
    assert (root / "a.cfg").read_bytes() == b"changed" and not (tmp_path / ".srv.restore").exists()


def test_a_swap_that_fails_half_way_puts_every_file_back(tmp_path, lines, monkeypatch):
    root = tree(tmp_path / "srv", {"a.cfg": b"a", "b.cfg": b"b", "c.cfg": b"c"})
    made, out = make(root, lines, "")
    for name in ("a.cfg", "b.cfg", "c.cfg"):
        (root / name).write_bytes(b"changed " + name.encode())
    (root / "only-here").write_bytes(b"new")
    before = snapshot(root)
    real_place = restore.Swap.place

    def place_two_then_fail(self, staged, rel):
        if rel == "c.cfg":
            raise OSError("disk full")
        real_place(self, staged, rel)

    monkeypatch.setattr(restore.Swap, "place", place_two_then_fail)
    with pytest.raises(OSError, match="disk full"):
        restored(root, made, out, lines, truncate=True)
    assert snapshot(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["srv"]


def test_a_single_file_restore_touches_nothing_else(tmp_path, lines):
    root = tree(tmp_path / "srv", {"cfg/a.cfg": b"a", "cfg/b.cfg": b"b"})
    made, out = make(root, lines, "")
    (root / "cfg" / "a.cfg").write_bytes(b"changed a")
    (root / "cfg" / "b.cfg").unlink()
    staging, members = restore.unpack(
        root, out, total=made.size, sha256=made.sha256, sink=lines, paths=["cfg/b.cfg"]
    )
    restore.swap_in(
        root, staging, members, ignore=archive.ignore_spec([]), sink=lines, paths=["cfg/b.cfg"], truncate=True
    )
    assert snapshot(root) == {"cfg": "dir", "cfg/a.cfg": b"changed a", "cfg/b.cfg": b"b"}


def test_a_swap_replaces_a_link_leading_out_and_writes_nothing_outside(tmp_path, lines):
    root = tree(tmp_path / "srv", {"cfg/a.cfg": b"a"})
    made, out = make(root, lines, "")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "cfg" / "a.cfg").unlink()
    (root / "cfg").rmdir()
    (root / "cfg").symlink_to(outside)
    restored(root, made, out, lines)  # the link is set aside and a real folder made in its place
    assert (root / "cfg").is_dir() and not (root / "cfg").is_symlink() and not any(outside.iterdir())


def test_a_fresh_install_backs_up_no_game_file(installed, spec, lines):
    root = Path(spec.install_dir)
    made, _ = make(root, lines)
    assert [m.path for m in made.members if m.type == "file"] == []
    assert any(p.is_file() for p in root.rglob("*"))  # the install did lay out files
