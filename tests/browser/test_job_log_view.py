"""The job page as a CI log page, at desktop and phone size: a header that stays, permalinks,
search, phases, colours, times; no sideways scrolling anywhere; the error pages."""

import re
import time

import pytest
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, LogStream
from tests.processes import free_port, running, start_daphne

from .conftest import NO_ESCAPE_HATCH
from .helpers import (
    DESKTOP,
    PHONE,
    VIEWPORTS,
    in_view,
    log_in,
    make_server,
    screenshot,
    selected_seqs,
    sideways_scroll,
    wait_for_state,
)

WORDS = "steamcmd verifies the files of app 222860 and downloads what is missing from the content servers"


def add_lines(job, count, start=1, stream=LogStream.STDOUT, text=WORDS):
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream=stream, line=f"{text} ({i})") for i in range(start, start + count)]
    )


def finished_job(owner, name, lines, state=JobState.SUCCEEDED, **fields):
    """A job that printed `lines` lines and ended; `fields` replace lines by seq ({seq: (stream, text)})."""
    server = make_server(owner, name)
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    add_lines(job, lines)
    for seq, (stream, text) in fields.get("replace", {}).items():
        JobLog.objects.filter(job=job, seq=seq).update(stream=stream, line=text)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=state, exit_code=0 if state == JobState.SUCCEEDED else 1, started_at=now, finished_at=now
    )
    return job


def open_job(new_page, viewport, user, job, anchor=""):
    page = new_page(viewport=viewport)
    log_in(page, user)
    page.goto(f"/jobs/{job.id}{anchor}")
    return page


# --- the header stays in view ---------------------------------------------------------


@pytest.mark.parametrize(**VIEWPORTS)
def test_the_header_stays_in_view_while_a_long_log_streams(new_page, owner, viewport):
    server = make_server(owner, "Long Log")
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, started_at=timezone.now(), progress=30)
    page = open_job(new_page, viewport, owner, job)
    page.wait_for_selector("#log-conn[data-conn=live]")

    for batch in range(12):  # 600 lines arrive while the page watches
        add_lines(job, 50, start=batch * 50 + 1)
        time.sleep(0.05)
    page.wait_for_function("window.logView.lastSeq === 600")
    page.wait_for_function(
        "(() => { const b = document.getElementById('log-scroll');"
        " return b.scrollTop > 0 && b.scrollHeight - b.clientHeight - b.scrollTop <= 40; })()"
    )
    assert page.evaluate("window.scrollY") == 0, "the page scrolled: the log should scroll in its own box"
    for selector in ("#job-state", "#job-status [data-cancel-job]", "#log-progress", "#L600"):
        assert in_view(page, selector), f"{selector} is out of view"
    assert page.locator("#log-follow").is_checked()
    if viewport == PHONE:
        screenshot(page, "screenshot-job-phone.png")

    # The job ends: the outcome is in view, in the header, without scrolling back up.
    JobLog.objects.create(job=job, seq=601, stream="system", line="Finished with exit code 0 after 9.0 s.")
    Job.objects.filter(pk=job.pk).update(
        state=JobState.SUCCEEDED, exit_code=0, finished_at=timezone.now(), progress=100
    )
    wait_for_state(page, "succeeded")
    page.wait_for_selector("#log-progress.is-succeeded")
    for selector in ("#job-state", "#log-progress-label", "#L601"):
        assert in_view(page, selector), f"{selector} is out of view"
    assert page.locator("#log-progress-label").inner_text() == "Succeeded"


# --- permalinks -----------------------------------------------------------------------------


@pytest.mark.parametrize(**VIEWPORTS)
def test_a_line_range_link_marks_and_shows_lines_older_than_the_page_loaded(new_page, owner, viewport):
    job = finished_job(owner, "Permalinks", 6000)  # the page opens on lines 1001-6000
    page = open_job(new_page, viewport, owner, job, anchor="#L5-L9")
    page.wait_for_selector("#L9.selected")
    assert selected_seqs(page) == [5, 6, 7, 8, 9]
    assert in_view(page, "#L5")
    page.wait_for_selector("#log-conn[data-conn=finished]")
    # What lies between the loaded stretches is marked, not silently skipped.
    assert page.locator("#log-lines li.log-gap").first.inner_text().startswith("971 lines not shown")
    assert not page.locator("#log-follow").is_checked()

    # Click a line number, shift-click another: the address names the range.
    page.locator("#L12 a.seq").click()
    assert page.evaluate("location.hash") == "#L12"
    assert selected_seqs(page) == [12]
    page.locator("#L15 a.seq").click(modifiers=["Shift"])
    assert page.evaluate("location.hash") == "#L12-L15"
    assert selected_seqs(page) == [12, 13, 14, 15]

    # A link into the part the page loaded from the start works the same.
    page.goto(f"/jobs/{job.id}#L5990")
    page.wait_for_selector("#L5990.selected")
    assert in_view(page, "#L5990") and selected_seqs(page) == [5990]


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(**VIEWPORTS)
def test_search_finds_lines_anywhere_in_the_log_and_jumps_to_them(new_page, owner, viewport):
    job = finished_job(
        owner,
        "Searchable",
        6000,
        replace={
            42: ("stdout", "Error! App '222860' state is 0x202"),
            5500: ("stderr", "one more ERROR here"),
        },
    )
    page = open_job(new_page, viewport, owner, job)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    page.fill("#log-search", "error")
    page.wait_for_function("document.getElementById('log-search-count').textContent === '1 / 2'")
    page.wait_for_selector("#L42.match-current")  # older than the window the page opened on: loaded
    assert in_view(page, "#L42")

    page.press("#log-search", "Enter")
    page.wait_for_function("document.getElementById('log-search-count').textContent === '2 / 2'")
    page.wait_for_selector("#L5500.match-current")
    assert in_view(page, "#L5500") and page.locator("#L42.match-current").count() == 0

    page.locator("#log-search-prev").click()
    page.wait_for_selector("#L42.match-current")
    assert page.locator("#log-search-count").inner_text() == "1 / 2"

    page.fill("#log-search", "no such words anywhere")
    page.wait_for_function("document.getElementById('log-search-count').textContent === 'no matches'")
    assert page.locator("#log-lines li.match").count() == 0


# --- phases, the failure reason, colours, times ------------------------------------------------


def test_phases_fold_and_show_how_each_ended_and_the_reason_links_to_its_line(new_page, owner):
    server = make_server(owner, "Phases")
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    rows = [
        ("system", "Worker h:1:1 runs install of Phases (server #1)."),
        ("phase", "Download (Windows platform)"),
        *[("stdout", f"windows file {i}") for i in range(20)],
        ("phase", "Download (Linux platform)"),
        ("stdout", "Error! App '222860' state is 0x202 after update job."),
        ("system", "steamcmd reported state 0x202: not enough disk space"),
        ("system", "Installing failed (exit code 1)"),
        ("system", "Finished with exit code 1 after 4.0 s."),
    ]
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=n, stream=stream, line=line) for n, (stream, line) in enumerate(rows, 1)]
    )
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, exit_code=1, started_at=timezone.now(), finished_at=timezone.now(), progress=55
    )
    page = open_job(new_page, DESKTOP, owner, job)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#log-lines li.phase").count() == 2
    assert page.locator("#L2").get_attribute("class").split() >= ["line", "stream-phase", "phase", "phase-ok"]
    assert "phase-failed" in page.locator("#L23").get_attribute("class")
    assert page.locator("#log-progress-label").inner_text() == "Failed at 55%"

    page.locator("#L2 .text").click()  # fold the first phase
    assert page.locator("#L3").is_hidden() and page.locator("#L22").is_hidden()
    assert page.locator("#L23").is_visible()
    screenshot(page, "screenshot-job-failed.png")

    # The reason at the top links to its line, which unfolds its phase if needed and is marked.
    page.locator("#L24 a.seq").click()  # something else selected first
    page.locator("#L23 .text").click()  # and the failed phase folded
    assert page.locator("#L25").is_hidden()
    page.locator("#job-failure a[href='#L25']").click()
    page.wait_for_selector("#L25.selected")
    assert in_view(page, "#L25") and selected_seqs(page) == [25]
    assert [line.strip() for line in page.locator("#job-failure .text").all_inner_texts()] == [
        "steamcmd reported state 0x202: not enough disk space",
        "Installing failed (exit code 1)",
    ]


def test_colour_codes_become_colours_and_markup_stays_text(new_page, owner):
    job = finished_job(
        owner,
        "Colours",
        3,
        replace={
            1: ("stdout", "\x1b[31mred\x1b[0m plain <b>not bold</b>"),
            2: ("stdout", "\x1b[1;38;5;208morange bold\x1b[0m\x1b[K"),
        },
    )
    page = open_job(new_page, DESKTOP, owner, job)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#L1 .text").text_content() == "red plain <b>not bold</b>"
    assert page.locator("#L1 .text span.ansi-fg-1").inner_text() == "red"
    assert page.locator("#L1 .text b").count() == 0
    orange = page.locator("#L2 .text span")
    assert orange.get_attribute("class") == "ansi-bold" and orange.text_content() == "orange bold"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#L2 .text span')).color")
        == "rgb(255, 135, 0)"
    )


def test_line_times_toggle_and_relative_times_read_in_the_viewers_zone(new_page, owner):
    job = finished_job(owner, "Times", 5)
    page = open_job(new_page, DESKTOP, owner, job)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#L1 .ts").is_hidden()
    page.locator("#log-times").check()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", page.locator("#L1 .ts").inner_text())
    page.reload()  # the choice is remembered
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#L1 .ts").is_visible()
    created = page.locator("#job-created time")
    assert created.inner_text() == "just now"
    assert str(timezone.now().year) in created.get_attribute("title")


def test_the_queued_message_goes_once_the_job_starts(new_page, owner):
    server = make_server(owner, "Queue Notice")  # no worker: the test starts the job itself
    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}")
    page.get_by_role("button", name="Install", exact=True).click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    page.wait_for_selector("#log-conn[data-conn=live]")
    assert "queued as job" in page.locator(".messages").inner_text()
    job_id = int(page.url.rsplit("/", 1)[1])
    Job.objects.filter(pk=job_id).update(state=JobState.RUNNING, started_at=timezone.now())
    wait_for_state(page, "running")
    page.wait_for_selector(".messages .job-queued", state="detached")


def test_over_the_cap_of_live_views_the_log_says_so_and_does_not_hammer_the_server(
    new_page, owner, hostctl_root
):
    server = make_server(owner, "Many Tabs")
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING, started_at=timezone.now())
    port = free_port()  # a Daphne of its own, that allows one live view per user
    with running(
        start_daphne(port, HOSTCTL_ROOT=hostctl_root, L4D2_MAX_SOCKETS_PER_USER="1", **NO_ESCAPE_HATCH)
    ):
        first = new_page()
        log_in(first, owner)  # cookies go by host, not port: this session works on both
        first.goto(f"http://127.0.0.1:{port}/jobs/{job.id}")
        first.wait_for_selector("#log-conn[data-conn=live]")
        second = first.context.new_page()
        sockets = []
        second.on("websocket", lambda socket: sockets.append(socket.url))
        second.goto(f"http://127.0.0.1:{port}/jobs/{job.id}")
        second.wait_for_selector("#log-conn[data-conn='too many']")
        assert "too many live views open: close some tabs" in second.locator("#log-conn").inner_text()
        time.sleep(3)
        assert len(sockets) == 1, "the refused view tried again at once"


# --- phones: nothing scrolls sideways; the error pages ---------------------------------------


@pytest.mark.parametrize(**VIEWPORTS)
def test_no_page_scrolls_sideways(new_page, owner, staff, viewport):
    long_name = "The Ultimate Versus Marathon Server For Everyone"
    job = finished_job(
        owner,
        long_name,
        40,
        state=JobState.FAILED,
        replace={
            3: ("stdout", "x" * 400),  # one unbreakable run
            4: ("stderr", "/home/steam/" + "very/long/path/" * 20 + "libsteam.so: cannot open shared object"),
        },
    )
    server = job.server
    for kind in (JobKind.START, JobKind.STOP, JobKind.UPDATE):
        Job.enqueue(server, kind, owner)
    pages = {
        owner: [
            "/servers/",
            f"/servers/{server.id}",
            f"/servers/{server.id}/jobs",
            f"/jobs/{job.id}",
            f"/servers/{server.id}/schedules",
            "/webhooks/",
            "/admin/jobs",  # staff only: the page that says so
            "/no/such/page",
        ],
        staff: ["/admin/jobs", "/admin/jobs?state=cancelling", f"/jobs/{job.id}", "/admin/"],
    }
    for user, paths in pages.items():
        page = new_page(viewport=viewport)
        page.goto("/accounts/login/")
        assert sideways_scroll(page) == [], "the login page"
        log_in(page, user)
        for path in paths:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            assert sideways_scroll(page) == [], f"{path} as {user}"
            if path.startswith("/jobs/"):
                page.wait_for_selector("#log-conn[data-conn=finished]")
                assert sideways_scroll(page) == [], f"{path} as {user}, log loaded"
        if user == staff and viewport == PHONE:
            page.goto("/admin/jobs")
            row = page.locator(f"#job-row-{job.id}")
            assert row.locator("[data-job-state]").is_visible()
            assert row.bounding_box()["height"] <= 90, (
                "an /admin/jobs row should be a compact card on a phone"
            )
            screenshot(page, "screenshot-admin-jobs-phone.png")
        if user == owner and viewport == PHONE:
            page.goto(f"/servers/{server.id}/jobs")
            assert page.locator(f"#job-row-{job.id} .c-created time").is_visible()
            assert page.locator(f"#job-row-{job.id} .c-duration").is_visible()


@pytest.mark.parametrize(**VIEWPORTS)
def test_the_404_page_explains_and_leads_back(new_page, owner, viewport):
    page = new_page(viewport=viewport)
    response = page.goto("/no/such/page")  # anonymous: offered the login page
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert page.get_by_role("link", name="Log in").is_visible()

    log_in(page, owner)
    response = page.goto("/jobs/999999")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert "/jobs/999999" in page.locator(".error-page").inner_text()
    assert sideways_scroll(page) == []
    page.get_by_role("link", name="Your servers").click()
    page.wait_for_url(re.compile(r"/servers/$"))


def test_the_job_pages_scripts_run_under_the_content_security_policy(new_page, owner):
    job = finished_job(
        owner, "Strict Log", 6000, replace={10: ("stdout", "\x1b[38;2;255;0;0mred\x1b[0m needle")}
    )
    page = new_page(viewport=DESKTOP, enforce_csp=True)
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, owner)
    page.goto(f"/jobs/{job.id}#L12")
    page.wait_for_selector("#L12.selected")  # older lines fetched, marked, scrolled to
    page.fill("#log-search", "needle")
    page.wait_for_selector("#L10.match-current")
    color = "getComputedStyle(document.querySelector('#L10 .text span')).color"
    assert page.evaluate(color) == "rgb(255, 0, 0)"  # set through the CSSOM, which the policy allows
    page.locator("#log-times").check()
    assert page.locator("#L10 .ts").is_visible()
    assert violations == []
