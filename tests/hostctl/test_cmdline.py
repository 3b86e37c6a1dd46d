"""Console and cfg text read the way srcds reads it (Source SDK 2013 tier1: command buffer, CCommand)."""

from __future__ import annotations

import pytest

from hostctl import cmdline


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ('"quit"', [["quit"]]),
        ('"_restart"', [["_restart"]]),
        ("  QUIT  ", [["QUIT"]]),
        ("alias q quit; q", [["alias", "q", "quit"], ["q"]]),
        ('say hi; "quit"', [["say", "hi"], ["quit"]]),
        ("say hi;;quit;", [["say", "hi"], ["quit"]]),
        ("say hi\nquit", [["say", "hi"], ["quit"]]),
        ('say "no; quit here"', [["say", "no; quit here"]]),
        ('say "a\nquit', [["say", "a"], ["quit"]]),  # a newline ends a command even inside quotes
        ('say "unclosed; quit', [["say", "unclosed; quit"]]),
        ('"foo"bar', [["foo", "bar"]]),
        ("quit:", [["quit", ":"]]),
        ("logaddress_add 1.2.3.4:27500", [["logaddress_add", "1.2.3.4", ":", "27500"]]),
        ("(quit)", [["(", "quit", ")"]]),
        ("quit\u00e9", [["quit", "\u00e9"]]),
        ("say hi // ; quit", [["say", "hi"]]),
        ('say "// ;" ; quit', [["say", "// ;"], ["quit"]]),
        ("// quit", []),
        ("+quit", [["+quit"]]),
    ],
)
def test_commands_are_cut_and_split_into_words_as_srcds_does(text, commands):
    assert cmdline.commands(text) == commands


def test_a_reader_without_comments_sees_the_command_after_a_semicolon_in_a_comment():
    assert cmdline.commands("say hi // ; quit", comments=False) == [["say", "hi"], ["quit"]]
    assert cmdline.every_reading("say hi // ; quit") == [["say", "hi"], ["quit"]]
    assert cmdline.every_reading('say "a // b"') == [["say", "a // b"]]
