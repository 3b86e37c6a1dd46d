"""SourceMod and MetaMod:Source laid out, updated and removed by hostctl.sourcemod (no Django)."""

from __future__ import annotations

import io
import os
import tarfile
import threading

import pytest

from hostctl import mods, sourcemod
from hostctl.errors import HostError
from hostctl.process import CancelToken
from hostctl.sim import alliedmods as fake
from hostctl.spec import ServerSpec

from ..trees import sha256_tree

SM = "left4dead2/addons/sourcemod"


@pytest.fixture
def server_dir(tmp_path):
    (tmp_path / "srv" / "left4dead2" / "cfg").mkdir(parents=True)
    return tmp_path / "srv"


@pytest.fixture
def run(server_dir, drops, lines):
    spec = ServerSpec(id=1, install_dir=server_dir, port=27015)
    sources = sourcemod.Sources(
        sourcemod_url=f"{drops.url}/smdrop", metamod_url=f"{drops.url}/mmsdrop", max_bytes=5_000_000
    )

    def run(action, cancel=None):
        return sourcemod.run(spec, lines, cancel, params={"action": action}, sources=sources)

    return run


def shipped(tarball):
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_install_lays_out_metamod_and_sourcemod_as_upstream_ships_them(run, server_dir, lines):
    assert run("install") == 0
    game = server_dir / "left4dead2"
    for name in shipped(fake.metamod_tarball(fake.MM_BUILD)) | shipped(fake.sourcemod_tarball(fake.SM_BUILD)):
        assert (game / name).is_file(), name
    for folder in (
        "bin",
        "configs",
        "data",
        "extensions",
        "gamedata",
        "logs",
        "plugins/disabled",
        "scripting",
    ):
        assert (game / "addons/sourcemod" / folder).is_dir()
    assert (game / "addons/metamod.vdf").read_text() == fake.METAMOD_VDF
    assert (game / "addons/sourcemod/plugins/basecommands.smx").read_bytes()[:4] == b"FFPS"
    assert os.access(game / "addons/sourcemod/scripting/spcomp", os.X_OK)
    manifest = (game / "addons/.l4d2panel-sourcemod-files.txt").read_text()
    assert manifest.startswith("# l4d2panel sourcemod 1.12.0-git7210 ")
    assert "addons/sourcemod/configs/admins_simple.ini" in manifest
    assert "sha256 " in lines.text and "no checksum" in lines.text
    assert not list(server_dir.glob(".l4d2panel-download-*"))


def test_update_keeps_the_owners_admins_plugins_and_choices_and_updates_the_rest(
    run, server_dir, drops, lines
):
    run("install")
    admins = server_dir / SM / "configs/admins_simple.ini"
    admins.write_text(admins.read_text() + '"STEAM_0:1:16" "99:z"\n')
    (server_dir / SM / "plugins/mine.smx").write_bytes(b"FFPS mine")
    os.rename(
        server_dir / SM / "plugins/funcommands.smx", server_dir / SM / "plugins/disabled/funcommands.smx"
    )
    (server_dir / SM / "plugins/adminhelp.smx").unlink()
    drops.sourcemod_build = 7300
    assert run("update") == 0
    assert admins.read_text().endswith('"STEAM_0:1:16" "99:z"\n')
    assert (server_dir / SM / "plugins/mine.smx").read_bytes() == b"FFPS mine"
    assert not (server_dir / SM / "plugins/funcommands.smx").exists()
    new = fake.sourcemod_tarball(7300)
    with tarfile.open(fileobj=io.BytesIO(new)) as tar:
        stock = tar.extractfile("addons/sourcemod/plugins/funcommands.smx").read()
        binary = tar.extractfile("addons/sourcemod/bin/sourcemod.logic.so").read()
    assert (server_dir / SM / "plugins/disabled/funcommands.smx").read_bytes() == stock
    assert (server_dir / SM / "bin/sourcemod.logic.so").read_bytes() == binary
    assert not (server_dir / SM / "plugins/adminhelp.smx").exists()
    assert "1.12.0-git7300" in (server_dir / "left4dead2/addons/.l4d2panel-sourcemod-files.txt").read_text()
    assert "Kept 1 of your files" in lines.text and "you deleted them" in lines.text


def test_remove_deletes_exactly_what_the_install_added(run, server_dir):
    before = sha256_tree(server_dir)
    run("install")
    admins = server_dir / SM / "configs/admins_simple.ini"
    admins.write_text("// mine\n")
    (server_dir / SM / "plugins/mine.smx").write_bytes(b"FFPS mine")
    (server_dir / "left4dead2/cfg/sourcemod/extra.cfg").write_text("sm_cvar x 1\n")
    os.rename(server_dir / SM / "plugins/disabled/nextmap.smx", server_dir / SM / "plugins/nextmap.smx")
    assert run("remove") == 0
    left = sha256_tree(server_dir)
    assert set(left) - set(before) == {
        f"{SM}/configs/admins_simple.ini",
        f"{SM}/plugins/mine.smx",
        "left4dead2/cfg/sourcemod/extra.cfg",
    }
    assert not (server_dir / "left4dead2/addons/metamod").exists()
    assert not (server_dir / SM / "bin").exists()


def test_a_download_that_is_not_a_gzip_tarball_is_refused_and_changes_nothing(run, server_dir, drops):
    drops.broken = True
    with pytest.raises(HostError, match="not a gzip file"):
        run("install")
    assert sha256_tree(server_dir) == {}


def test_a_download_directory_left_by_a_killed_worker_is_cleared_by_the_next_run(run, server_dir):
    stale = server_dir / f"{sourcemod.DOWNLOADS}x1y2"
    stale.mkdir()
    (stale / "sourcemod-1.12.0-git7210-linux.tar.gz.part").write_bytes(b"half")
    assert run("install") == 0
    assert not list(server_dir.glob(f"{sourcemod.DOWNLOADS}*"))


def test_a_cancelled_download_leaves_no_partial_file(run, server_dir, drops, lines):
    drops.rate = 64 * 1024  # about 5 seconds for MetaMod
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    with pytest.raises(HostError, match="Cancelled"):
        run("install", cancel)
    assert sha256_tree(server_dir) == {}
    assert not list(server_dir.rglob("*.part"))


@pytest.mark.parametrize(
    "name, why",
    [
        ("../evil", "unsafe path"),
        ("/etc/passwd", "unsafe path"),
        ("maps/x.bsp", "outside"),
        ("addons/link", "neither"),
    ],
)
def test_archives_with_unsafe_or_foreign_members_are_refused(tmp_path, name, why):
    out = tmp_path / "x.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        if name == "addons/link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(HostError, match=why):
        mods.verify(out, sourcemod.METAMOD)


def test_a_symlink_in_the_game_directory_is_never_followed(run, server_dir, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (server_dir / "left4dead2/addons").mkdir()
    (server_dir / "left4dead2/addons/sourcemod").symlink_to(outside)
    with pytest.raises(HostError, match="is not a directory"):
        run("install")
    assert list(outside.iterdir()) == []


def test_install_refuses_a_server_without_the_game(tmp_path, drops, lines):
    spec = ServerSpec(id=1, install_dir=tmp_path, port=27015)
    with pytest.raises(HostError, match="install it first"):
        sourcemod.run(spec, lines, params={"action": "install"}, sources=sourcemod.Sources())
