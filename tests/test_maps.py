"""The maps a server can start on: the stock campaigns by name, then what other apps register."""

import pytest

from servers import maps


def test_the_stock_choices_are_the_fourteen_campaigns_by_name_with_their_chapters_in_order():
    groups = maps.map_choices(server=None)
    assert len(groups) == 14
    assert groups[0][0] == "Dead Center"
    dead_center = [name for name, _label in groups[0][1]]
    assert dead_center == ["c1m1_hotel", "c1m2_streets", "c1m3_mall", "c1m4_atrium"]
    assert groups[-1] == (
        "The Last Stand",
        [
            ("c14m1_junkyard", "The Last Stand 1: c14m1_junkyard"),
            ("c14m2_lighthouse", "The Last Stand 2: c14m2_lighthouse"),
        ],
    )
    assert len(maps.map_names(groups)) == 57


@pytest.fixture
def workshop_source(monkeypatch):
    monkeypatch.setattr(maps, "_sources", [])

    def workshop(server):
        return [(f"Workshop: Diescraper ({server})", [("l4d2_diescraper1_apartment_361", "Diescraper 1")])]

    return workshop


def test_a_registered_source_adds_its_groups_after_the_stock_campaigns_once(workshop_source):
    maps.register_source(workshop_source)
    maps.register_source(workshop_source)
    groups = maps.map_choices(server="srv")
    assert len(groups) == 15
    assert groups[-1] == ("Workshop: Diescraper (srv)", [("l4d2_diescraper1_apartment_361", "Diescraper 1")])
    assert "l4d2_diescraper1_apartment_361" in maps.map_names(groups)


def test_campaign_of_names_the_stock_campaign_and_nothing_for_other_maps():
    assert maps.campaign_of("c8m3_sewers") == "No Mercy"
    assert maps.campaign_of("c8m3") == ""
