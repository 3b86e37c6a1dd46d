"""Real-browser end-to-end tests: headless Chromium against a real Daphne and a real runworker.

Everything a user does goes through the browser (log in through the login form,
click Install, click Cancel); the database is only used to set up the cast and to
check what the browser shows against the source of truth. The live processes use
the pytest test database, so every test here is transactional.

Needs Debian's Chromium at /usr/bin/chromium (never downloaded by these tests).
"""

import os
import re
import signal
import socket
import subprocess
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, LogStream
from servers.models import Server

from .processes import free_port, start_daphne, start_worker, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
DOCS = Path(__file__).resolve().parent.parent / "docs"
SIM_MARKER = "hostctl/sim"
# Never let the escape hatch below leak into the processes under test: there an
# async-unsafe call is a real bug that must keep raising.
NO_ESCAPE_HATCH = {"DJANGO_ALLOW_ASYNC_UNSAFE": ""}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Chromium at {CHROMIUM}"),
]


# --- processes ---------------------------------------------------------------


def _stop(proc, grace=10):
    """SIGTERM (the worker drains), a second SIGTERM (the worker cancels its jobs), then SIGKILL."""
    if proc.poll() is not None:
        return
    for _ in range(2):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()


def _sim_processes(root):
    """Processes our stack left behind: anything running from or in our HOSTCTL_ROOT, and any
    simulated steamcmd/srcds started with it (other test runs' simulators are left alone)."""
    root = str(root)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
            ours = root in cmdline or cwd.startswith(root)
            if not ours and SIM_MARKER in cmdline:
                ours = proc.environ().get("HOSTCTL_ROOT") == root
        except (psutil.Error, TypeError):
            continue
        if ours:
            found.append(proc)
    return found


def _cmdline(proc):
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _kill_leftovers(root):
    """Kill whatever outlived its test; return a description of it so the test can fail."""
    leftovers = _sim_processes(root)
    described = []
    for proc in leftovers:
        try:
            described.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(leftovers, timeout=5)
    return described


@pytest.fixture(scope="module")
def _async_unsafe_ok():
    """The sync Playwright API keeps an asyncio loop registered as running on this
    thread, which makes Django refuse ORM calls from the test. The test process only
    sets up and checks data, so allow it here (and only here: see NO_ESCAPE_HATCH)."""
    old = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if old is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = old


@pytest.fixture(scope="module")
def hostctl_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostctl-root")
    yield root
    leftovers = _kill_leftovers(root)
    assert not leftovers, f"simulated processes outlived the browser tests: {leftovers}"


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, django_db_blocker, hostctl_root):
    """One Daphne for the module, on the test database (which every test flushes)."""
    with django_db_blocker.unblock():
        port = free_port()
        proc = start_daphne(port, HOSTCTL_ROOT=hostctl_root, **NO_ESCAPE_HATCH)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc, grace=5)


@pytest.fixture
def worker(transactional_db, hostctl_root, tmp_path):
    """Start a real `runworker --poll 0.2`; the argument is the simulated seconds per steamcmd run."""
    started = []

    def start(sim_seconds):
        log_path = tmp_path / f"worker-{len(started)}.log"
        proc = start_worker(
            "--poll",
            "0.2",
            log_path=log_path,
            HOSTCTL_ROOT=hostctl_root,
            HOSTCTL_SIM_SECONDS=str(sim_seconds),
            HOSTCTL_STOP_GRACE="1",
            **NO_ESCAPE_HATCH,
        )
        started.append(proc)

        def up():
            if proc.poll() is not None:
                pytest.fail(f"runworker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            return b" started (" in log_path.read_bytes()

        wait_until(up, timeout=20)
        return proc

    yield start
    for proc in started:
        _stop(proc)
    leftovers = _kill_leftovers(hostctl_root)
    assert not leftovers, f"simulated steamcmd/srcds outlived the test: {leftovers}"


# --- the browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(_async_unsafe_ok):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server_url, transactional_db):
    """Pages in fresh contexts (own cookies); JavaScript errors on any page fail the test."""
    contexts, errors = [], []

    def make():
        context = browser.new_context(base_url=live_server_url, viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()  # closes the WebSockets before the database is flushed
    assert not errors, f"JavaScript errors: {errors}"


def log_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", "pw-" + user.get_username())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/servers/$"))
    assert page.get_by_role("button", name=f"Log out {user.get_username()}").is_visible()


def make_server(owner, name):
    return Server.objects.create(owner=owner, name=name, port=free_port(socket.SOCK_DGRAM))


def mark_page(page):
    """Set a marker a full page load would wipe out."""
    page.evaluate("window.__noReload = 'still-here'")


def assert_not_reloaded(page):
    assert page.evaluate("window.__noReload") == "still-here", "the page was reloaded"


def js_int(page, expression):
    return int(page.evaluate(expression))


def progress_width(page):
    """The progress bar's width as a percentage of its track."""
    return float(page.evaluate("parseFloat(document.getElementById('log-progress-bar').style.width) || 0"))


def wait_for_state(page, state, timeout=30_000):
    page.wait_for_selector(f"#job-state[data-job-state={state}]", timeout=timeout)


def wait_for_running(page):
    """The badge says running and the status panel (re-rendered in place if needed) has a start time."""
    wait_for_state(page, "running", timeout=10_000)
    page.wait_for_function("document.getElementById('job-started').textContent.trim() !== '—'")
    assert_one_job_page(page)


def assert_one_job_page(page):
    """A state change re-renders the status panel in place: never a second page inside the first."""
    counts = page.evaluate(
        "['#job-status', '#job-state', '#log-view', '#log-lines']"
        ".map(s => document.querySelectorAll(s).length)"
    )
    assert counts == [1, 1, 1, 1], (
        f"#job-status/#job-state/#log-view/#log-lines appear {counts} times: the status panel re-render "
        "swapped something other than the panel into #job-status"
    )


def rendered_seqs(page):
    return page.eval_on_selector_all("#log-lines li.line", "els => els.map(e => Number(e.dataset.seq))")


# --- the tests ---------------------------------------------------------------


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
    assert "queued as job" in page.locator(".messages").inner_text()

    wait_for_running(page)
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
    assert re.fullmatch(
        r"(steamcmd run \d of \d: )?\d+\.\d\d%", page.locator("#log-progress-label").inner_text()
    )

    # Mid-install picture for the docs: log streaming, bar part-way.
    page.wait_for_function(
        "parseFloat(document.getElementById('log-progress-bar').style.width) >= 35"
        " || document.getElementById('job-state').dataset.jobState !== 'running'"
    )
    assert page.locator("#job-state").get_attribute("data-job-state") == "running"
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-job.png"), full_page=True)

    wait_for_state(page, "succeeded", timeout=30_000)
    page.wait_for_selector("#log-conn[data-conn=finished]")
    assert page.locator("#job-state").inner_text() == "Succeeded"
    # The status panel was re-rendered in place: exit code and finish time are filled in.
    page.wait_for_function("document.getElementById('job-exit-code').textContent.trim() === '0'")
    assert_one_job_page(page)
    assert page.locator("#log-progress").is_hidden()
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
    page.screenshot(path=str(DOCS / "screenshot-server.png"), full_page=True)


def test_owner_cancels_a_running_install_and_sees_cancelling_then_cancelled(
    new_page, worker, owner, hostctl_root
):
    server = make_server(owner, "Cancel Me")
    worker(60)
    page = new_page()
    log_in(page, owner)
    job_id = click_install(page, server)
    mark_page(page)
    wait_for_running(page)
    page.wait_for_selector("#log-progress", state="visible", timeout=10_000)

    install_dir = str(hostctl_root / str(server.id))
    steamcmd = [p for p in _sim_processes(hostctl_root) if install_dir in _cmdline(p)]
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
    assert_not_reloaded(page)

    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.CANCELLED and job.cancel_requested_by_id == owner.id
    # The steamcmd process tree is gone.
    wait_until(lambda: not any(p.is_running() for p in steamcmd), timeout=5)
    assert not [p for p in _sim_processes(hostctl_root) if install_dir in _cmdline(p)]


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
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-admin-jobs.png"), full_page=True)

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
    server = make_server(owner, "Flaky Wi-Fi")
    worker(2.5)
    page = new_page()
    log_in(page, owner)
    job_id = click_install(page, server)
    mark_page(page)
    wait_for_running(page)

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
