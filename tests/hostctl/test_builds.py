"""hostctl.builds: the installed build, the latest build from steamcmd, and srcds's update notice."""

from __future__ import annotations

import dataclasses

import pytest

from hostctl import builds, l4d2
from hostctl.errors import HostError

# What real steamcmd prints around the block (colours included), trimmed to what matters.
REAL_LOOKING = (
    "Redirecting stderr to '/home/steam/Steam/logs/stderr.txt'\n"
    "\x1b[0m[  0%] Checking for available updates...\n"
    "Loading Steam API...OK\n"
    "Logging in user 'anonymous' to Steam Public...OK\n"
    "AppID : 222860, change number : 26374923/0, last change : Tue Nov 26 12:00:00 2024 \n"
    '"222860"\n{\n'
    '\t"common"\n\t{\n\t\t"name"\t\t"Left 4 Dead 2 Dedicated Server"\n'
    '\t\t"note"\t\t"a } brace and a \\" quote inside a string"\n\t}\n'
    '\t"depots"\n\t{\n\t\t"branches"\n\t\t{\n'
    '\t\t\t"public"\n\t\t\t{\n\t\t\t\t"buildid"\t\t"16227317"\n\t\t\t}\n'
    '\t\t\t"beta"\n\t\t\t{\n\t\t\t\t"buildid"\t\t"99999999"\n\t\t\t}\n'
    "\t\t}\n\t}\n}\n"
    "\x1b[1mUnloading Steam API...OK\x1b[0m\n"
)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """steamcmd's (and the simulator's) home, with its app-info cache, in the test's folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_public_build_is_read_from_real_looking_output_with_colours_and_noise_around_it():
    info = builds.parse_app_info(REAL_LOOKING)
    assert info["common"]["note"] == 'a } brace and a " quote inside a string'
    assert builds.public_build(info) == "16227317"


@pytest.mark.parametrize(
    "output",
    [
        "Login Failure: No Connection\n",
        "AppID : 222860, change number : 1/0, last change : x \n",  # header without a block
        '"222860"\n{\n\t"depots"\n\t{\n',  # cut off
        '"222860"\n{\n\t"common"\n\t{\n\t}\n}\n',  # no branches
    ],
)
def test_output_without_a_public_build_gives_none(output):
    info = builds.parse_app_info(output)
    assert info is None or builds.public_build(info) is None


def test_the_installed_build_is_the_one_steamcmd_wrote_into_the_appmanifest(spec, config, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD", "4242")
    assert builds.installed_build(spec.install_dir) is None
    assert l4d2.install(spec, lambda *_: None, config=config) == 0
    assert builds.installed_build(spec.install_dir) == "4242"


def test_a_broken_appmanifest_has_no_build(tmp_path):
    manifest = builds.manifest_path(tmp_path)
    manifest.parent.mkdir()
    manifest.write_text('"AppState"\n{\n\t"buildid"\t\t"not a number"\n}\n')
    assert builds.installed_build(tmp_path) is None
    manifest.write_bytes(b"\x00\xff garbage {{{")
    assert builds.installed_build(tmp_path) is None


def test_latest_build_follows_steam_and_never_answers_from_the_stale_cache(
    config, home, tmp_path, monkeypatch
):
    build_file = tmp_path / "latest"
    build_file.write_text("500\n")
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD_FILE", str(build_file))
    assert builds.latest_build(config) == "500"
    assert (
        home / "Steam" / "appcache" / "appinfo.vdf"
    ).exists()  # the simulator keeps a cache, like steamcmd
    build_file.write_text("501\n")
    assert builds.latest_build(config) == "501"


def test_a_stale_cache_is_deleted_before_asking(config, home):
    cache = home / "Steam" / "appcache" / "appinfo.vdf"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"stale")
    assert cache in builds.appinfo_caches(config)
    builds.latest_build(config)
    assert cache.read_bytes() != b"stale"


def test_a_steamcmd_that_prints_no_app_info_is_a_host_error_with_its_last_line(config, home, tmp_path):
    fake = tmp_path / "steamcmd"
    fake.write_text("#!/bin/sh\necho 'Logging in user anonymous...'\necho 'Login Failure: No Connection'\n")
    fake.chmod(0o755)
    real_ish = dataclasses.replace(config, simulate=False, steamcmd=str(fake))
    assert tmp_path / "appcache" / "appinfo.vdf" in builds.appinfo_caches(real_ish)  # next to the binary
    with pytest.raises(HostError, match="no build id .* Login Failure: No Connection"):
        builds.latest_build(real_ish)


# --- the console notice -------------------------------------------------------------


def test_the_notice_counts_only_once_and_only_when_printed_after_the_scanner_first_looked(tmp_path):
    log = tmp_path / "console.log"
    log.write_text(f"old news\n{builds.UPDATE_NOTICE}\n")
    scanner = builds.NoticeScanner()
    assert not scanner.seen(log)  # what was there before is not news
    with open(log, "a") as out:
        out.write("MasterRequestRestart\n")
    assert not scanner.seen(log)
    with open(log, "a") as out:
        out.write(f"{builds.UPDATE_NOTICE}\n")
    assert scanner.seen(log)
    assert not scanner.seen(log)


def test_a_notice_cut_by_a_write_is_found_once_its_line_is_complete(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("")
    scanner = builds.NoticeScanner()
    scanner.seen(log)
    half = len(builds.UPDATE_NOTICE) // 2
    with open(log, "a") as out:
        out.write(builds.UPDATE_NOTICE[:half])
    assert not scanner.seen(log)
    with open(log, "a") as out:
        out.write(builds.UPDATE_NOTICE[half:] + "\n")
    assert scanner.seen(log)


def test_a_replaced_console_log_is_read_from_its_start(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("a long first life of the server\n" * 10)
    scanner = builds.NoticeScanner()
    scanner.seen(log)
    log.unlink()
    log.write_text(f"{builds.UPDATE_NOTICE}\n")  # a new, shorter file
    assert scanner.seen(log)


def test_a_missing_console_log_is_no_notice(tmp_path):
    assert not builds.NoticeScanner().seen(tmp_path / "console.log")
