"""server.cfg from the server's settings: every value checked again, the RCON password kept out of logs."""

from __future__ import annotations

import dataclasses

import pytest

from hostctl import cvars, l4d2, servercfg
from hostctl.console import ConsoleReader

PASSWORD = "Gq1vA0-8bq7rX_4mZJ6f3l2pWdYt9sKe"
SETTINGS = (
    ("sv_password", "letmein"),
    ("mp_gamemode", "versus"),
    ("z_difficulty", "Hard"),
    ("sv_allow_lobby_connect_only", "False"),
    ("sv_steamgroup", "103582791429521412,42"),
    ("sv_steamgroup_exclusive", "True"),
    ("sv_region", "3"),
    ("sv_tags", "friendly,no-mods"),
    ("motd_enabled", "True"),
)


@pytest.fixture
def configured(spec):
    return dataclasses.replace(
        spec, rcon_password=PASSWORD, cvars=SETTINGS, extra_cfg="sv_alltalk 1\n// a comment\nsv_consistency 0"
    )


def test_the_file_has_every_setting_in_order_then_the_extra_lines(configured):
    assert servercfg.render(configured).splitlines() == [
        servercfg.HEADER,
        'hostname "Test server"',
        f'rcon_password "{PASSWORD}"',
        'sv_password "letmein"',
        'mp_gamemode "versus"',
        'z_difficulty "Hard"',
        'sv_allow_lobby_connect_only "0"',
        'sv_steamgroup "103582791429521412,42"',
        'sv_steamgroup_exclusive "1"',
        'sv_region "3"',
        'sv_tags "friendly,no-mods"',
        'motd_enabled "1"',
        "log on",
        'sv_logecho "1"',
        servercfg.EXTRA_HEADER,
        "sv_alltalk 1",
        "// a comment",
        "sv_consistency 0",
    ]


def test_the_file_shown_to_people_masks_the_rcon_password(configured):
    shown = servercfg.render(configured, mask_rcon=True)
    assert PASSWORD not in shown and 'rcon_password "********"' in shown


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sv_password", 'x" ; rcon_password "y'),
        ("sv_password", "two words"),
        ("sv_password", "a;quit"),
        ("mp_gamemode", "mutation4"),
        ("z_difficulty", "hard"),
        ("sv_region", "9"),
        ("sv_steamgroup", "12;quit"),
        ("sv_tags", 'a"b'),
        ("motd_enabled", "yes"),
        ("sv_cheats", "1"),
    ],
)
def test_hostctl_refuses_a_bad_value_whatever_the_caller_checked(configured, name, value):
    with pytest.raises(cvars.CfgError):
        servercfg.render(dataclasses.replace(configured, cvars=((name, value),)))


def test_a_password_that_was_not_generated_is_refused_without_being_echoed(spec):
    with pytest.raises(cvars.CfgError) as refused:
        servercfg.render(dataclasses.replace(spec, rcon_password='pw" ; quit "'))
    assert "quit" not in str(refused.value)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("rcon_password x", "rcon_password is not allowed"),
        ("RCON_PASSWORD x", "rcon_password is not allowed"),
        ("exec ../../x", "exec is not allowed"),
        ("alias go quit", "alias is not allowed"),
        ("quit", "quit is not allowed"),
        ("changelevel c2m1_highway", "changelevel is not allowed"),
        ("plugin_load addons/evil", "plugin_load is not allowed"),
        ("sv_alltalk 1; rcon_password x", "';' is not allowed"),
        ('mapcyclefile "../../../etc/passwd"', "'..' are not allowed"),
        ("sv_logsdir /etc", "absolute paths"),
        ('sv_tags "a" "b', "quote is not closed"),
        ('sv_alltalk "1"x', "quotes may only surround a whole value"),
        ("sv_alltalk\t1", "control characters"),
        ("sv_alltalk 1\x00", "control characters"),
        ("mp_gamemode versus", "has its own field"),
        ("hostname evil", "hostname is not allowed"),
        ("1abc 2", "not a command or cvar name"),
        ("sv_cheats(1)", "not a command or cvar name"),
        ("sv_alltalk " + "1" * 300, "longer than"),
        # The security review's lines (issue "Hardening", F13), and their relatives:
        ("sv_cheats 1 // ; rcon_password x", "';' is not allowed, not even in a comment"),
        ("sv_cheats 1 // ; quit", "';' is not allowed, not even in a comment"),
        (
            "ent_fire point_servercommand command quit",
            "ent_fire is not allowed here: entity inputs such as Command",
        ),
        ("ent_create point_servercommand targetname x", "ent_create is not allowed"),
        ('ent_fire worldspawn RunScriptCode "Say(null, 1, false)"', "ent_fire is not allowed"),
        ("ent_fire logic_auto addoutput OnUser1", "ent_fire is not allowed"),
        ("sm_cvar rcon_password x", "rcon_password is not allowed"),
        ("sv_tags rcon_password", "rcon_password is not allowed"),
        ("sv_alltalk 1 // rcon_password", "rcon_password is not allowed"),
        ("script_execute x", "script_execute is not allowed here: it runs VScript code"),
        ("script SendToServerConsole(x)", "script is not allowed"),
        ("sm_rcon quit", "sm_rcon is not allowed here: it runs its arguments as a server command"),
        ("rcon quit", "rcon is not allowed"),
        ("sm_execcfg x", "sm_execcfg is not allowed here: it runs another file"),
        ("logaddress_add 192.168.1.5:27500", "logaddress_add is not allowed here: it sends the server's log"),
        ("logaddress_add 203.0.113.7:27500", "logaddress_add is not allowed"),
        ("motdfile cfg/server.cfg", "motdfile is not allowed here: players are sent that file's text"),
        ('hostfile "cfg/server.cfg"', "hostfile is not allowed"),
        ("servercfgfile other.cfg", "servercfgfile is not allowed here: it replaces the server.cfg"),
        ("sm_cvar servercfgfile other.cfg", "servercfgfile is not allowed"),
        ("sm_cvar hostname evil", "hostname is not allowed"),
        ("sm_cvar mp_gamemode versus", "mp_gamemode has its own field"),
        ('"quit"', "quit is not allowed"),
        ("QUIT", "quit is not allowed"),
        ("quit(", "quit is not allowed"),
        ("quit\u00e9", "quit is not allowed"),  # srcds ends a word at a byte above 127
        ("_restart", "_restart is not allowed"),
        ("Alias q quit", "alias is not allowed"),
    ],
)
def test_an_extra_cfg_line_that_could_do_harm_is_refused_with_its_reason(line, reason):
    errors = cvars.extra_errors(f"sv_alltalk 1\n{line}")
    assert len(errors) == 1 and errors[0][0] == 2 and reason in errors[0][1]


@pytest.mark.parametrize(
    "line",
    ["", "// exec anything, it is a comment", "sv_alltalk 1", 'sv_downloadurl "http://fastdl.example/l4d2"',
     'motdfile "motd_custom.txt"', "hostfile host.txt", "sv_consistency 0 // trailing comment", "sv_cheats 0",
     'z_common_limit "30"', "sm_cvar nb_update_frequency 0.014", "sv_allowupload 0", "sv_allowdownload 1",
     "ent_fire !picker kill", "say quit"],
)  # fmt: skip
def test_ordinary_extra_cfg_lines_are_accepted(line):
    assert cvars.extra_errors(line) == []


def test_a_bad_extra_cfg_stops_the_start_with_the_line_and_reason(installed_spec, config, lines):
    bad = dataclasses.replace(installed_spec, extra_cfg="sv_alltalk 1\nexec ../../x")
    with pytest.raises(cvars.CfgError, match=r"Extra cfg line 2: exec is not allowed"):
        l4d2.start(bad, lines, config=config)


@pytest.fixture
def installed_spec(configured, config):
    assert l4d2.install(configured, lambda *_: None, config=config) == 0
    return configured


def test_start_writes_the_cfg_only_its_owner_may_read_marks_the_start_and_logs_no_password(
    installed_spec, config, lines
):
    assert l4d2.start(installed_spec, lines, config=config) == 0
    cfg = installed_spec.install_dir / "left4dead2" / "cfg" / "server.cfg"
    assert cfg.read_text() == servercfg.render(installed_spec)
    assert cfg.stat().st_mode & 0o777 == 0o600
    assert PASSWORD not in lines.text and "Executing dedicated server config file server.cfg" in lines.text
    rows = ConsoleReader(installed_spec.install_dir / "console.log").read()
    assert rows[0].stream == "system" and rows[0].text.startswith("Server started at ")
    assert l4d2.stop(installed_spec, lines, config=config) == 0
