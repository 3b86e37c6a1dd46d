"""Workshop items on a server's disk: the fake Steam Web API and download host
(hostctl/sim/steam_web.py), the steamcmd simulator, real files."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from hostctl import campaigns, steam_api, workshop
from hostctl.errors import HostError
from hostctl.process import PROGRESS, CancelToken
from hostctl.sim.workshop_items import COLLECTION

ONE, TWO, THREE, TIMEOUT, BIG, SLOW, PRIVATE = (
    "3000000001", "3000000002", "3000000003", "3000000006", "3000000007", "3000000008", "3000000009",
)  # fmt: skip


@pytest.fixture
def ws_config(config, steam_url):
    return dataclasses.replace(config, steam_api_url=steam_url, steam_api_timeout=1)


@pytest.fixture
def game(spec):
    (spec.install_dir / "left4dead2").mkdir(parents=True)
    return spec


def addons(spec):
    return sorted(p.name for p in (spec.install_dir / "left4dead2" / "addons").iterdir())


def run(spec, lines, config, outcomes=None, cancel=None, **params):
    on_item = outcomes.append if outcomes is not None else None
    return workshop.run(spec, lines, cancel, config=config, params=params, on_item=on_item)


def test_a_collection_installs_each_item_as_its_id_vpk_by_file_url_or_steamcmd(game, lines, ws_config):
    outcomes = []
    code = run(game, lines, ws_config, outcomes, action="add", items=[], collection=COLLECTION)
    assert code == 0, lines.text
    assert addons(game) == [f"{ONE}.vpk", f"{TWO}.vpk", f"{THREE}.vpk"]
    assert [o.contents.campaigns[0].title for o in outcomes] == [
        "Sim Campaign One", "Sim Campaign Two", "Sim Campaign Three",
    ]  # fmt: skip
    assert outcomes[1].contents.maps == ("simtwo_m1", "simtwo_m2", "simtwo_m3")
    assert "+workshop_download_item 550 3000000003" in lines.text  # the one without a file_url
    assert lines.of(PROGRESS)[-1] == "100"
    assert workshop.installed(game.install_dir)[TWO].campaigns[0].maps == outcomes[1].contents.maps


def test_a_private_item_fails_the_run_with_the_reason_and_the_others_install(game, lines, ws_config):
    outcomes = []
    assert run(game, lines, ws_config, outcomes, action="add", items=[PRIVATE, ONE]) == 1
    assert "Item 3000000009 cannot be installed: it is missing or private on the Workshop" in lines.text
    assert [(o.id, bool(o.error)) for o in outcomes] == [(PRIVATE, True), (ONE, False)]
    assert addons(game) == [f"{ONE}.vpk"]


def test_a_slow_answer_is_said_for_its_own_item_only(game, lines, ws_config):
    outcomes = []
    assert run(game, lines, ws_config, outcomes, action="add", items=[SLOW, ONE]) == 1
    assert outcomes[0].error == "Steam did not answer within 1s; try again later"
    assert outcomes[1].contents is not None


def test_steamcmd_failures_are_read_from_its_lines(game, lines, ws_config):
    outcomes = []
    assert run(game, lines, ws_config, outcomes, action="add", items=[TIMEOUT]) == 1
    assert "steamcmd timed out downloading it" in outcomes[0].error
    assert addons(game) == []
    assert not list((game.install_dir / workshop.STAGING).rglob("*.bin"))


def test_a_cancel_mid_download_leaves_no_partial_vpk(game, lines, ws_config):
    cancel = CancelToken()
    started = threading.Event()

    def sink(stream, text):
        lines(stream, text)
        if stream == PROGRESS and 0 < int(text) < 100:
            started.set()

    threading.Thread(target=lambda: started.wait(10) and cancel.cancel(), daemon=True).start()
    assert run(game, sink, ws_config, cancel=cancel, action="add", items=[BIG]) == 1
    assert started.is_set()
    assert "no partial file was left" in lines.text
    assert addons(game) == []


def test_update_leaves_items_whose_steam_time_is_unchanged(game, lines, ws_config):
    assert run(game, lines, ws_config, action="add", items=[ONE]) == 0
    outcomes = []
    assert run(game, lines, ws_config, outcomes, action="update", items=[ONE], known={ONE: 1700000000}) == 0
    assert outcomes[0].unchanged
    outcomes.clear()
    assert run(game, lines, ws_config, outcomes, action="update", items=[ONE], known={ONE: 1}) == 0
    assert outcomes[0].contents is not None and not outcomes[0].unchanged


def test_remove_deletes_exactly_the_items_vpk(game, lines, ws_config):
    assert run(game, lines, ws_config, action="add", items=[ONE, TWO]) == 0
    own = game.install_dir / "left4dead2" / "addons" / "owners_own.vpk"
    own.write_bytes(b"x")
    assert run(game, lines, ws_config, action="remove", items=[ONE]) == 0
    assert addons(game) == [f"{TWO}.vpk", "owners_own.vpk"]


def test_an_addons_folder_leading_elsewhere_is_refused(game, lines, ws_config, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (game.install_dir / "left4dead2" / "addons").symlink_to(elsewhere)
    with pytest.raises(HostError, match="leads outside"):
        run(game, lines, ws_config, action="add", items=[ONE])
    assert list(elsewhere.iterdir()) == []


def test_a_file_that_is_not_a_vpk_is_refused(tmp_path):
    path = tmp_path / "x.vpk"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(campaigns.NotAVpk, match="not a VPK"):
        campaigns.read(path)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("123", ["123"]),
        ("https://steamcommunity.com/sharedfiles/filedetails/?id=123&searchtext=x\n456, 123", ["123", "456"]),
        ("https://steamcommunity.com/workshop/filedetails/?id=789", ["789"]),
    ],
)
def test_ids_and_links_are_read_from_pasted_text(text, ids):
    assert steam_api.parse_ids(text) == ids


@pytest.mark.parametrize("text", ["abc", "https://evil.example/?id=123", "12; rm -rf /"])
def test_anything_else_pasted_is_refused_by_name(text):
    with pytest.raises(ValueError, match="neither a Workshop item id nor a link"):
        steam_api.parse_ids(text)


def test_a_game_folder_leading_elsewhere_is_refused_before_anything_is_made_there(
    spec, lines, ws_config, tmp_path
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec.install_dir.mkdir(parents=True)
    (spec.install_dir / "left4dead2").symlink_to(elsewhere)
    with pytest.raises(HostError, match="leads outside"):
        run(spec, lines, ws_config, action="add", items=[ONE])
    assert list(elsewhere.iterdir()) == []
