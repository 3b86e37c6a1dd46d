"""The real outputs quoted in docs/reference/workshop.md, read through the parsers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from hostctl import steam_api, workshop
from hostctl.process import run_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "workshop.md"
_BLOCK = re.compile(r"<!-- (transcript|api): ([\w-]+) -->\n```(?:json)?\n(.*?)```", re.S)


def blocks(kind):
    return {name: text for k, name, text in _BLOCK.findall(DOC.read_text()) if k == kind}


def judged(name, item):
    judge = workshop.DownloadJudge(item)
    for line in blocks("transcript")[name].splitlines():
        judge.feed(line)
    return judge


def test_the_reference_holds_every_transcript_and_answer():
    assert set(blocks("transcript")) == {"success", "failure", "failure-generic", "timeout"}
    assert set(blocks("api")) == {"details", "collection"}


def test_the_success_transcript_reads_as_downloaded():
    judge = judged("success", "1414531358")
    assert judge.downloaded and judge.reasons == []


@pytest.mark.parametrize(
    ("name", "item", "reason"),
    [
        ("failure", "1439605692", "steamcmd: No Connection (steamcmd could not reach Steam)"),
        ("failure-generic", "2930348946", "steamcmd: Failure"),
        ("timeout", "583496184", "steamcmd timed out downloading it"),
    ],
)
def test_the_failure_transcripts_read_as_failures_with_their_reason(name, item, reason):
    judge = judged(name, item)
    assert not judge.downloaded
    assert judge.reasons[0].startswith(reason)


def test_a_line_about_another_item_is_not_taken_for_this_one():
    assert judged("success", "999").downloaded is False


def test_the_real_details_answer_reads_as_one_item_and_one_missing_or_private():
    details = json.loads(blocks("api")["details"])["response"]["publishedfiledetails"]
    found, missing = (steam_api.describe(d["publishedfileid"], d) for d in details)
    assert (found.title, found.size, found.time_updated) == ("Custom Map 1", 10485760, 1625000000)
    assert found.error == ""
    assert found.file_url.startswith("https://")
    assert "missing or private" in missing.error


def test_the_simulators_print_what_the_reference_quotes(tmp_path, config):
    """The steamcmd simulator's lines go through the same judge as the real transcripts."""
    env = dict(os.environ, HOSTCTL_SIM_SECONDS="0.1")
    for item, downloaded in (("3000000001", True), ("42", False)):
        judge = workshop.DownloadJudge(item)
        argv = workshop.steamcmd_argv(tmp_path, item, config)
        run_command(argv, on_line=lambda _s, text, judge=judge: judge.feed(text), cwd=tmp_path, env=env)
        assert judge.downloaded is downloaded
    assert judge.reasons == ["steamcmd: File Not Found (there is no such item (deleted?))"]
