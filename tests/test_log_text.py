"""A job's log outside the live view: log.txt (download, timestamps, follow), search, windows of lines."""

import asyncio
import re
from datetime import UTC, datetime

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from jobs.models import Job, JobLog, JobState
from streams.ansi import strip_ansi

pytestmark = pytest.mark.django_db(transaction=True)

RED, RESET = "\x1b[31m", "\x1b[0m"


def add_lines(job, *lines, stream="stdout"):
    start = JobLog.objects.filter(job=job).count()
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=start + i, stream=stream, line=line) for i, line in enumerate(lines, 1)]
    )


def set_state(job, state, **fields):
    Job.objects.filter(pk=job.pk).update(state=state, **fields)


async def body_of(response):
    chunks = [c if isinstance(c, bytes) else c.encode() async for c in response.streaming_content]
    return b"".join(chunks).decode()


async def async_client(user):
    client = AsyncClient()
    await client.aforce_login(user)
    return client


# --- log.txt ------------------------------------------------------------------------


def test_strip_ansi_leaves_the_text_without_any_escape_sequence():
    assert strip_ansi(f"{RED}ERROR{RESET} disk \x1b[1;33mfull\x1b[K\x1b]0;title\x07!") == "ERROR disk full!"
    assert strip_ansi("plain [31m text") == "plain [31m text"


async def test_log_txt_is_plain_text_without_colour_codes(owner, job):
    await sync_to_async(add_lines)(job, f"{RED}Error!{RESET} no space left")
    await sync_to_async(set_state)(job, JobState.FAILED, exit_code=1)
    response = await (await async_client(owner)).get(f"/jobs/{job.id}/log.txt")
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.id}.log"'
    assert await body_of(response) == "Error! no space left\n"


async def test_log_txt_with_timestamps_starts_each_line_with_its_utc_time(owner, job):
    at = datetime(2026, 11, 27, 10, 0, 5, 123456, tzinfo=UTC)
    await sync_to_async(JobLog.objects.create)(job=job, seq=1, stream="system", line="hello", created_at=at)
    response = await (await async_client(owner)).get(f"/jobs/{job.id}/log.txt?timestamps=1")
    assert await body_of(response) == "2026-11-27T10:00:05.123Z [system] hello\n"


async def test_log_txt_follow_streams_new_lines_until_the_job_ends(owner, job):
    await sync_to_async(set_state)(job, JobState.RUNNING, started_at=timezone.now())
    await sync_to_async(add_lines)(job, "first")
    response = await (await async_client(owner)).get(f"/jobs/{job.id}/log.txt?follow=1")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert not response.has_header("Content-Disposition")  # shown as it comes, not saved
    chunks = aiter(response.streaming_content)
    assert await asyncio.wait_for(anext(chunks), 5) == b"first\n"
    await sync_to_async(add_lines)(job, "second", f"{RED}third{RESET}")
    assert await asyncio.wait_for(anext(chunks), 5) == b"second\nthird\n"
    await sync_to_async(add_lines)(job, "Finished with exit code 0 after 1.0 s.", stream="system")
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0, finished_at=timezone.now())
    rest = [chunk async for chunk in chunks]  # ends by itself once the job has ended
    assert b"".join(rest).decode() == "[system] Finished with exit code 0 after 1.0 s.\n"


async def test_log_txt_follow_of_a_finished_job_is_the_whole_log_then_ends(owner, job):
    await sync_to_async(add_lines)(job, "one", "two")
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0, finished_at=timezone.now())
    response = await (await async_client(owner)).get(f"/jobs/{job.id}/log.txt?follow=1")
    assert await asyncio.wait_for(body_of(response), 5) == "one\ntwo\n"


@pytest.mark.parametrize("path", ["log.txt?follow=1", "search?q=x", "lines?after=0"])
def test_outsider_gets_404_and_anonymous_the_login_page(other_client, anon_client, job, path):
    assert other_client.get(f"/jobs/{job.id}/{path}").status_code == 404
    response = anon_client.get(f"/jobs/{job.id}/{path}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["log.txt", "search?q=x", "lines"])
def test_log_endpoints_answer_get_only(owner_client, job, path):
    assert owner_client.post(f"/jobs/{job.id}/{path}").status_code == 405


@pytest.mark.parametrize(
    "path", ["log.txt", "log.txt?follow=1", "search?q=one", "lines?after=0", "events", "no-such-page"]
)
async def test_nothing_about_a_job_is_kept_by_the_browser_or_a_proxy(owner, job, path):
    # Back, a shared cache or the next user of a browser must not get one user's log from a store.
    await sync_to_async(add_lines)(job, "one")
    await sync_to_async(set_state)(job, JobState.SUCCEEDED, exit_code=0, finished_at=timezone.now())
    response = await (await async_client(owner)).get(f"/jobs/{job.id}/{path}")
    if response.streaming:
        await asyncio.wait_for(body_of(response), 5)  # a finished job's streams end by themselves
    assert "no-store" in response["Cache-Control"], path
    assert "private" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]


# --- search -----------------------------------------------------------------------------


def test_search_finds_lines_in_any_case_in_seq_order(owner_client, staff_client, job):
    add_lines(job, "Downloading", "ERROR! disk full", "ok", "an error again", "Error-free")
    for client in (owner_client, staff_client):
        response = client.get(f"/jobs/{job.id}/search?q=error")
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"matches": [2, 4, 5], "truncated": False}
    assert owner_client.get(f"/jobs/{job.id}/search?q=nothing").json() == {"matches": [], "truncated": False}


def test_search_treats_the_query_as_text_not_a_pattern(owner_client, job):
    add_lines(job, "100% done", "1000 done", "a_b", "axb")
    assert owner_client.get(f"/jobs/{job.id}/search", {"q": "0%"}).json()["matches"] == [1]
    assert owner_client.get(f"/jobs/{job.id}/search", {"q": "a_b"}).json()["matches"] == [3]


def test_search_stops_at_1000_matches_and_says_so(owner_client, job):
    add_lines(job, *["match"] * 1001)
    data = owner_client.get(f"/jobs/{job.id}/search?q=MATCH").json()
    assert data["matches"] == list(range(1, 1001)) and data["truncated"] is True


def test_search_only_looks_in_that_jobs_log(owner_client, job, server, owner):
    other = Job.enqueue(server, "update", owner)
    add_lines(other, "needle")
    add_lines(job, "hay", "needle")
    assert owner_client.get(f"/jobs/{job.id}/search?q=needle").json()["matches"] == [2]


@pytest.mark.parametrize("query", ["", "x" * 201])
def test_search_refuses_an_empty_or_over_long_query(owner_client, job, query):
    response = owner_client.get(f"/jobs/{job.id}/search", {"q": query})
    assert response.status_code == 400 and "1 to 200 characters" in response.json()["error"]


def test_search_for_a_nul_character_is_an_answer_not_an_error(owner_client, job):
    add_lines(job, "before\ufffdafter")
    assert owner_client.get(f"/jobs/{job.id}/search", {"q": "e\x00a"}).json()["matches"] == [1]


# --- windows of lines ---------------------------------------------------------------------


def test_lines_returns_the_rows_between_two_seqs(owner_client, job):
    add_lines(job, *[f"l{i}" for i in range(1, 21)])
    rows = owner_client.get(f"/jobs/{job.id}/lines?after=4&before=8").json()["lines"]
    assert [(r["seq"], r["line"]) for r in rows] == [(5, "l5"), (6, "l6"), (7, "l7")]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", r["at"]) for r in rows)
    assert owner_client.get(f"/jobs/{job.id}/lines?after=9&before=5").json() == {"lines": []}


def test_lines_returns_at_most_5000_rows(owner_client, job):
    add_lines(job, *["x"] * 5003)
    rows = owner_client.get(f"/jobs/{job.id}/lines?after=1").json()["lines"]
    assert len(rows) == 5000 and rows[0]["seq"] == 2 and rows[-1]["seq"] == 5001


def test_lines_refuses_a_bad_after(owner_client, job):
    assert owner_client.get(f"/jobs/{job.id}/lines?after=-1").status_code == 400
