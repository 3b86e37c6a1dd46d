"""The maps a server can start on: the stock campaigns, then what other apps add.

`map_choices(server)` gives grouped choices for a form's select,
`[(group_label, [(map, label), ...]), ...]`: the 14 stock campaigns by name, each
with its chapter maps in order, then the groups of every registered source. Apps
that install maps (e.g. Workshop addons) call `register_source(fn)` from their
AppConfig.ready(), so imports keep pointing down: servers never imports them.
"""

# Every L4D2 install carries these (left4dead2/maps/<map>.bsp in the game's VPKs).
STOCK_CAMPAIGNS = (
    ("Dead Center", "c1m1_hotel c1m2_streets c1m3_mall c1m4_atrium"),
    ("Dark Carnival", "c2m1_highway c2m2_fairgrounds c2m3_coaster c2m4_barns c2m5_concert"),
    ("Swamp Fever", "c3m1_plankcountry c3m2_swamp c3m3_shantytown c3m4_plantation"),
    ("Hard Rain", "c4m1_milltown_a c4m2_sugarmill_a c4m3_sugarmill_b c4m4_milltown_b c4m5_milltown_escape"),
    ("The Parish", "c5m1_waterfront c5m2_park c5m3_cemetery c5m4_quarter c5m5_bridge"),
    ("The Passing", "c6m1_riverbank c6m2_bedlam c6m3_port"),
    ("The Sacrifice", "c7m1_docks c7m2_barge c7m3_port"),
    ("No Mercy", "c8m1_apartment c8m2_subway c8m3_sewers c8m4_interior c8m5_rooftop"),
    ("Crash Course", "c9m1_alleys c9m2_lots"),
    ("Death Toll", "c10m1_caves c10m2_drainage c10m3_ranchhouse c10m4_mainstreet c10m5_houseboat"),
    ("Dead Air", "c11m1_greenhouse c11m2_offices c11m3_garage c11m4_terminal c11m5_runway"),
    ("Blood Harvest", "c12m1_hilltop c12m2_traintunnel c12m3_bridge c12m4_barn c12m5_cornfield"),
    ("Cold Stream", "c13m1_alpinecreek c13m2_southpinestream c13m3_memorialbridge c13m4_cutthroatcreek"),
    ("The Last Stand", "c14m1_junkyard c14m2_lighthouse"),
)

_sources = []


def register_source(fn):
    """Add `fn(server) -> [(group_label, [(map, label), ...]), ...]` to every server's choices.

    Registering the same function twice (a ready() run again in tests) adds it once.
    """
    if fn not in _sources:
        _sources.append(fn)
    return fn


def stock_choices():
    return [
        (campaign, [(name, f"{campaign} {chapter}: {name}") for chapter, name in enumerate(maps.split(), 1)])
        for campaign, maps in STOCK_CAMPAIGNS
    ]


def map_choices(server):
    """Grouped choices for `server`: the stock campaigns first, then each source's groups."""
    groups = stock_choices()
    for source in _sources:
        groups.extend(source(server))
    return groups


def map_names(choices):
    """The map names in grouped `choices` (what a form accepts)."""
    return {name for _group, maps in choices for name, _label in maps}


def campaign_of(map_name):
    """The stock campaign a map belongs to ("Dead Center"), or "" for any other map."""
    for campaign, maps in STOCK_CAMPAIGNS:
        if map_name in maps.split():
            return campaign
    return ""
