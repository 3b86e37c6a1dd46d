"""admins_simple.ini: Steam IDs in every form, flags as words, the owner's lines kept."""

import pytest

from hostctl import smadmins
from hostctl.sim.alliedmods import ADMINS_SIMPLE
from hostctl.smadmins import Admin, AdminError


@pytest.mark.parametrize(
    "text",
    [
        "STEAM_0:1:123",
        "STEAM_1:1:123",
        "steam_0:1:123",
        "[U:1:247]",
        "U:1:247",
        "76561197960265975",
        "https://steamcommunity.com/profiles/76561197960265975/",
        "  STEAM_0:1:123 ",
    ],
)
def test_every_steam_id_form_normalises_to_the_one_the_games_status_shows(text):
    assert smadmins.normalise_steam_id(text) == "STEAM_1:1:123"
    assert smadmins.steam_id64("STEAM_1:1:123") == 76561197960265975


@pytest.mark.parametrize(
    "text", ["", "bob", "STEAM_0:2:1", "[U:1:0]", "7656119796026597", "12345678901234567"]
)
def test_what_is_not_a_steam_id_is_refused_with_the_forms_to_use(text):
    with pytest.raises(AdminError, match="Steam"):
        smadmins.normalise_steam_id(text)


def test_an_admin_is_written_with_immunity_letters_and_its_name_as_a_comment():
    admin = Admin.make("[U:1:33]", ["ban", "kick", "root"], 50, "Alice")
    assert admin.flags == ("kick", "ban", "root")
    assert admin.line() == '"STEAM_1:1:16"\t"50:cdz"\t// Alice'


@pytest.mark.parametrize(
    "flags, immunity, name, why",
    [
        (["kick", "fly"], 0, "", "Unknown flag fly"),
        ([], 0, "", "at least one flag"),
        ("cdz", 0, "", "list of words"),
        (["kick"], -1, "", "between 0"),
        (["kick"], "lots", "", "whole number"),
        (["kick"], 0, 'x" "99:z', "without quotes"),
        (["kick"], 0, "a\nb", "line breaks"),
    ],
)
def test_bad_admins_are_refused_in_words(flags, immunity, name, why):
    with pytest.raises(AdminError, match=why):
        Admin.make("STEAM_0:1:16", flags, immunity, name)


HAND_EDITED = ADMINS_SIMPLE + (
    '"STEAM_0:0:42"\t"bce"\t\t// my friend, by hand\n'
    '"BAILOPAN"\t"abc"\t"Gab3n"\n'
    '"!10.0.0.1"\t"99:z"\n'
    '"STEAM_0:1:7" "@Full Admins"\n'
    '"STEAM_0:1:9" "99:z\n'
)


def test_the_panels_block_is_added_and_every_hand_edit_survives_a_round_trip():
    first = smadmins.parse(HAND_EDITED)
    assert [line.text for line in first.unreadable] == ['"STEAM_0:1:9" "99:z']
    assert len(first.hand_written) == 4 and first.admins == []
    assert smadmins.describe(first.hand_written[0].text) == "STEAM_1:0:42: generic, kick, unban"
    written = first.render([Admin.make("76561197960265761", ["root"], 99, "Owner")])
    assert written.startswith(HAND_EDITED)
    assert written.endswith(f'{smadmins.BEGIN}\n"STEAM_1:1:16"\t"99:z"\t// Owner\n{smadmins.END}\n')
    again = smadmins.parse(written)
    assert again.admins == [Admin("STEAM_1:1:16", ("root",), 99, "Owner")]
    assert again.render(again.admins) == written
    edited = (
        written.replace(smadmins.END, '"STEAM_0:1:5" "bogus flags"\n' + smadmins.END) + "// after, mine\n"
    )
    third = smadmins.parse(edited)
    assert [line.text for line in third.unreadable][-1] == '"STEAM_0:1:5" "bogus flags"'
    rewritten = third.render([])
    assert '"STEAM_0:1:5" "bogus flags"' in rewritten.split(smadmins.END)[1]
    assert rewritten.endswith("// after, mine\n") and rewritten.startswith(HAND_EDITED)
