"""The job pages in a real browser: install with a live log, cancel, outsiders, staff, reconnects."""

import re
from datetime import timedelta

from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, LogStream
from tests.processes import cmdline, sim_processes, wait_until

from .helpers import (
    assert_not_reloaded,
    assert_one_job_page,
    js_int,
    log_in,
    make_server,
    mark_page,
    progress_width,
    rendered_seqs,
    screenshot,
    wait_for_running,
    wait_for_state,
)


def install_and_watch(new_page, worker, owner, name, sim_seconds):
    """A user presses Install on a new server and watches the job run; returns (page, job id, server)."""
    server = make_server(owner, name)
    worker(sim_seconds)
    page = new_page()
    log_in(page, owner)
    job_id = click_install(page, server)
    mark_page(page)
    wait_for_running(page)
    return page, job_id, server


def click_install(page, server):
    """Press Install on the server page like a user; returns the job id of the page it lands on."""
    page.goto(f"/servers/{server.id}")
    page.get_by_role("button", name="Install", exact=True).click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def test_owner_installs_and_watches_the_log_and_progress_grow_live(new_page, worker, owner):
    server = make_server(owner, "Hotel Survivors")
    worker(3)  # two steamcmd runs (windows, then linux) of ~3 s each
    page = new_page()
    log_in(page, owner)

    page.goto(f"/servers/{server.id}")
    assert page.locator("h1").inner_text() == "Hotel Survivors"
    job_id = click_install(page, server)
    job = Job.objects.get(pk=job_id)
    assert (job.server_id, job.kind, job.requested_by_id) == (server.id, JobKind.INSTALL, owner.id)
    mark_page(page)

    wait_for_running(page)
    # "queued as job #N" does not outlive the job's start (test_job_log_view.py watches it go).
    assert page.locator(".messages .job-queued").count() == 0
    page.wait_for_selector("#log-conn[data-conn=live]")

    # Lines keep arriving without a reload.
    page.wait_for_function("window.logView.count > 0")
    first_count = js_int(page, "window.logView.count")
    page.wait_for_function(f"window.logView.count > {first_count} + 3")
    assert_one_job_page(page)
    assert page.locator("#log-lines li.line").count() == js_int(page, "window.logView.count")

    # The progress bar shows up with the first steamcmd progress line and grows.
    page.wait_for_selector("#log-progress", state="visible", timeout=10_000)
    page.wait_for_function("parseFloat(document.getElementById('log-progress-bar').style.width) > 0")
    widths = [progress_width(page)]
    page.wait_for_function(
        f"parseFloat(document.getElementById('log-progress-bar').style.width) > {widths[0]}"
        " || document.getElementById('log-progress').hidden"
    )
    widths.append(progress_width(page))
    assert widths[1] > widths[0], f"progress did not grow: {widths}"
    # One bar for the whole job (both steamcmd runs), in whole percents.
    assert re.fullmatch(r"\d+%", page.locator("#log-progress-label").inner_text())

    # Mid-install picture for the docs: log streaming, bar part-way.
    page.wait_for_function(
        "parseFloat(document.getElementById('log-progress-bar').style.width) >= 35"
        " || document.getElementById('job-state').dataset.jobState !== 'running'"
    )
    assert page.locator("#job-state").get_attribute("data-job-state") == "running"
    screenshot(page, "screenshot-job.png")

    wait_for_state(page, "succeeded", timeout=30_000)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#job-state").inner_text() == "Succeeded"
    # The status panel was re-rendered in place: exit code and finish time are filled in.
    page.wait_for_function("document.getElementById('job-exit-code').textContent.trim() === '0'")
    assert_one_job_page(page)
    # The bar ends full and says how the job ended (never a frozen running bar).
    page.wait_for_selector("#log-progress.is-succeeded")
    assert page.locator("#log-progress-label").inner_text() == "Succeeded"
    assert progress_width(page) == 100
    assert page.locator("#job-finished").inner_text() != "—"
    assert page.locator("[data-cancel-job]").count() == 0
    assert_not_reloaded(page)
    assert page.get_by_text("Success! App '222860' fully installed.").count() >= 1
    total = JobLog.objects.filter(job_id=job_id).count()
    assert rendered_seqs(page) == list(range(1, total + 1))

    # The server page afterwards: installed (stopped), the job in its recent jobs.
    page.goto(f"/servers/{server.id}")
    row = page.locator(f"#job-row-{job_id}")
    assert row.locator("[data-job-state]").get_attribute("data-job-state") == "succeeded"
    assert page.locator(".card-head .badge").inner_text() == "Stopped"
    screenshot(page, "screenshot-server.png")


def test_owner_cancels_a_running_install_and_sees_cancelling_then_cancelled(
    new_page, worker, owner, hostctl_root
):
    page, job_id, server = install_and_watch(new_page, worker, owner, "Cancel Me", sim_seconds=60)
    page.wait_for_selector("#log-progress", state="visible", timeout=10_000)

    install_dir = str(hostctl_root / str(server.id))
    steamcmd = [p for p in sim_processes(hostctl_root) if install_dir in cmdline(p)]
    assert steamcmd, "the simulated steamcmd should be running now"

    # Record every state the badge shows from here on, however briefly.
    page.evaluate(
        """() => {
          window.__states = [];
          const note = () => {
            const badge = document.getElementById('job-state');
            const s = badge && badge.dataset.jobState;
            if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
          };
          new MutationObserver(note).observe(
            document.body, {subtree: true, childList: true, attributes: true});
          note();
        }"""
    )
    page.locator("#job-status [data-cancel-job]").click()

    wait_for_state(page, "cancelled", timeout=20_000)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    states = page.evaluate("window.__states")
    log_text = page.locator("#log-lines").inner_text()
    assert "cancelling" in states or "Cancel requested" in log_text, (states, log_text[-2000:])
    assert states[-1] == "cancelled"
    assert "Cancel requested by owner" in log_text
    assert page.locator("#job-state").inner_text() == "Cancelled"
    page.wait_for_function("document.getElementById('job-exit-code').textContent.trim() !== '—'")
    assert_one_job_page(page)
    assert page.locator("#job-status [data-cancel-job]").count() == 0
    assert page.locator("#job-status .msg.warning").is_visible()  # "stopped while running" note
    # The bar stops where the install was, in the cancelled look, and says so.
    page.wait_for_selector("#log-progress.is-cancelled")
    assert re.fullmatch(r"Cancelled at \d+%", page.locator("#log-progress-label").inner_text())
    assert_not_reloaded(page)

    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.CANCELLED and job.cancel_requested_by_id == owner.id
    # The steamcmd process tree is gone.
    wait_until(lambda: not any(p.is_running() for p in steamcmd), timeout=5)
    assert not [p for p in sim_processes(hostctl_root) if install_dir in cmdline(p)]


def test_second_owner_gets_404_on_the_job_and_its_server(new_page, owner, other_owner):
    server = make_server(owner, "Private")
    job = Job.enqueue(server, JobKind.INSTALL, owner)
    page = new_page()
    log_in(page, other_owner)

    for path in (f"/jobs/{job.id}", f"/servers/{server.id}", f"/servers/{server.id}/jobs"):
        response = page.goto(path)
        assert response.status == 404, path
        assert "Private" not in page.content()
    page.goto("/servers/")
    assert page.get_by_text("Private").count() == 0
    assert Job.objects.get(pk=job.id).state == JobState.QUEUED


def test_staff_see_all_jobs_in_admin_and_follow_a_link(new_page, owner, other_owner, staff):
    mine = make_server(owner, "Owner's Dark Carnival")
    theirs = make_server(other_owner, "Other's Swamp Fever")
    jobs = [
        Job.enqueue(mine, JobKind.INSTALL, owner),
        Job.enqueue(mine, JobKind.START, owner),
        Job.enqueue(theirs, JobKind.INSTALL, other_owner),
        Job.enqueue(theirs, JobKind.UPDATE, other_owner),
    ]
    # Give the table some history to show (no worker runs in this test).
    now = timezone.now()
    for job, state, code, seconds in ((jobs[0], JobState.SUCCEEDED, 0, 41), (jobs[2], JobState.FAILED, 8, 7)):
        Job.objects.filter(pk=job.pk).update(
            state=state, exit_code=code, started_at=now, finished_at=now + timedelta(seconds=seconds)
        )
    for n, line in enumerate(["Installing server files", "Success! App '222860' fully installed."], 1):
        JobLog.objects.create(job=jobs[0], seq=n, stream=LogStream.STDOUT, line=line)

    page = new_page()
    log_in(page, staff)
    page.get_by_role("link", name="All jobs").click()
    page.wait_for_url(re.compile(r"/admin/jobs$"))
    for job in jobs:
        assert page.locator(f"#job-row-{job.id}").is_visible(), job
    table = page.locator("table.jobs").inner_text()
    assert "Owner's Dark Carnival" in table and "Other's Swamp Fever" in table
    assert "owner" in table and "other" in table
    screenshot(page, "screenshot-admin-jobs.png")

    page.locator(f"#job-row-{jobs[2].id} a[href='/jobs/{jobs[2].id}']").click()
    page.wait_for_url(re.compile(rf"/jobs/{jobs[2].id}$"))
    assert page.locator("h1").inner_text() == f"Job #{jobs[2].id}: Install Other's Swamp Fever"
    assert page.locator("#job-state").get_attribute("data-job-state") == "failed"
    page.wait_for_selector("#log-conn[data-conn=finished]")


def test_queued_job_is_cancelled_from_history_and_its_row_updates_in_place(new_page, owner):
    # No worker runs: the job stays queued until the owner cancels it.
    server = make_server(owner, "Queue Only")
    done = Job.enqueue(server, JobKind.INSTALL, owner)
    Job.objects.filter(pk=done.pk).update(state=JobState.SUCCEEDED, exit_code=0)
    job = Job.enqueue(server, JobKind.UPDATE, owner)

    page = new_page()
    log_in(page, owner)
    page.goto(f"/servers/{server.id}/jobs")
    row = page.locator(f"#job-row-{job.id}")
    assert row.locator("[data-job-state]").get_attribute("data-job-state") == "queued"
    assert page.locator(f"#job-row-{done.id} [data-cancel-job]").count() == 0
    mark_page(page)

    row.locator(f"[data-cancel-job='{job.id}']").click()
    page.wait_for_selector(f"#job-row-{job.id} [data-job-state=cancelled]", timeout=10_000)
    row = page.locator(f"#job-row-{job.id}")
    assert row.locator(".badge").inner_text() == "Cancelled"
    assert "cancelled before it ran" in row.inner_text()
    assert row.locator("[data-cancel-job]").count() == 0
    assert page.locator(f"#job-row-{done.id} .badge").inner_text() == "Succeeded"
    assert_not_reloaded(page)
    assert page.url.endswith(f"/servers/{server.id}/jobs")

    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.exit_code == 1
    assert job.logs.get().line == "Cancelled by owner before execution."


def test_live_log_survives_a_dropped_websocket_without_lost_or_repeated_lines(new_page, worker, owner):
    page, job_id, _ = install_and_watch(new_page, worker, owner, "Flaky Wi-Fi", sim_seconds=2.5)

    sockets = []
    for _ in range(2):
        page.wait_for_selector("#log-conn[data-conn=live]")
        before = js_int(page, "window.logView.lastSeq")
        page.wait_for_function(f"window.logView.lastSeq > {before}")  # mid-stream
        sockets.append(page.evaluate("window.logView.socket.url"))
        page.evaluate("window.logView.socket.close()")
        page.wait_for_selector("#log-conn[data-conn='reconnecting…']", timeout=5_000)
        # The view comes back on a new socket that resumes after the last seq it has.
        page.wait_for_selector("#log-conn[data-conn=live]", timeout=10_000)
        resumed = page.evaluate("window.logView.socket.url")
        assert re.search(r"\?after=(\d+)$", resumed) and int(resumed.rsplit("=", 1)[1]) > 0, resumed
    assert sockets[0] != sockets[1]

    wait_for_state(page, "succeeded", timeout=30_000)
    page.wait_for_selector("#log-conn[data-conn=finished]", timeout=10_000)
    page.wait_for_function("document.getElementById('job-exit-code').textContent.trim() === '0'")
    assert_one_job_page(page)
    assert_not_reloaded(page)

    total = JobLog.objects.filter(job_id=job_id).count()
    seqs = rendered_seqs(page)
    assert len(seqs) == len(set(seqs)), "a line was shown twice"
    assert seqs == list(range(1, total + 1)), f"rendered {len(seqs)} lines, the database has {total}"
    assert js_int(page, "window.logView.count") == total
    texts = page.eval_on_selector_all("#log-lines li.line .text", "els => els.map(e => e.textContent)")
    assert texts == list(JobLog.objects.filter(job_id=job_id).order_by("seq").values_list("line", flat=True))


def test_a_huge_finished_log_opens_on_its_tail_without_freezing_the_page(new_page, owner):
    server = make_server(owner, "Chatty")
    job = Job.enqueue(server, JobKind.UPDATE, owner)
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream="stdout", line=f"line {i}") for i in range(1, 6001)]
    )
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED, exit_code=0)
    page = new_page()
    log_in(page, owner)
    page.goto(f"/jobs/{job.id}")
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert rendered_seqs(page) == list(range(1001, 6001))
    assert page.locator("#log-skipped").is_visible()
    assert "1000 earlier lines" in page.locator("#log-skipped").inner_text()
