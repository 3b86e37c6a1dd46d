"""Fixtures for the real-browser tests: headless Chromium against a real Daphne and runworker.

The live processes use the pytest test database, so every browser test is
transactional. Needs Debian's Chromium at /usr/bin/chromium (never downloaded).
"""

import os

import pytest

from tests.processes import free_port, kill_leftovers, start_daphne, start_worker, stop_gracefully, wait_until

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
# Never let the escape hatch below leak into the processes under test: there an
# async-unsafe call is a real bug that must keep raising.
NO_ESCAPE_HATCH = {"DJANGO_ALLOW_ASYNC_UNSAFE": ""}


def pytest_collection_modifyitems(items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.django_db(transaction=True))
            if not os.path.exists(CHROMIUM):
                item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}"))


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
    leftovers = kill_leftovers(root)
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
        stop_gracefully(proc, grace=5)


@pytest.fixture
def worker(transactional_db, hostctl_root, tmp_path):
    """Start a real `runworker --poll 0.2`: the simulated seconds per steamcmd run, then more environment."""
    started = []

    def start(sim_seconds, **env):
        log_path = tmp_path / f"worker-{len(started)}.log"
        proc = start_worker(
            "--poll",
            "0.2",
            log_path=log_path,
            HOSTCTL_ROOT=hostctl_root,
            HOSTCTL_SIM_SECONDS=str(sim_seconds),
            HOSTCTL_STOP_GRACE="1",
            **NO_ESCAPE_HATCH,
            **env,
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
        stop_gracefully(proc)
    leftovers = kill_leftovers(hostctl_root)
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
    """Pages in fresh contexts (own cookies); JavaScript errors on any page fail the test.

    Playwright's wait_for_function evaluates strings, which our Content-Security-Policy
    forbids, so test pages bypass it; `enforce_csp=True` keeps it (see test_security_in_a_browser.py).
    """
    contexts, errors = [], []

    def make(viewport=VIEWPORT, enforce_csp=False, timezone_id=None):
        options = {"timezone_id": timezone_id} if timezone_id else {}
        context = browser.new_context(
            base_url=live_server_url, viewport=viewport, bypass_csp=not enforce_csp, **options
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()  # closes the WebSockets before the database is flushed
    assert not errors, f"JavaScript errors: {errors}"
