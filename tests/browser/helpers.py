"""What browser tests do and check, shared by every page's tests."""

import os
import re
from pathlib import Path

from servers.models import Server
from tests.processes import free_game_port

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"
DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"argnames": "viewport", "argvalues": [DESKTOP, PHONE], "ids": ["desktop", "phone"]}


def screenshot(page, name):
    """Refresh a picture in docs/ for the README, only when asked (UPDATE_SCREENSHOTS=1,
    scripts/screenshots.sh): at a phone's width as the test has it, else at 1366 px."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        size = page.viewport_size
        if size["width"] > PHONE["width"]:
            page.set_viewport_size({"width": DESKTOP["width"], "height": size["height"]})
        page.screenshot(path=str(DOCS / name), full_page=True)
        page.set_viewport_size(size)


def log_in(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", "pw-" + user.get_username())
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/servers/$"))
    assert page.get_by_role("button", name=f"Log out {user.get_username()}").is_visible()


def make_server(owner, name):
    return Server.objects.create(owner=owner, name=name, port=free_game_port())


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


def in_view(page, selector):
    """The element is wholly inside the window (and inside the log's own scroll box, if it is in it)."""
    return page.eval_on_selector(
        selector,
        """el => {
          const r = el.getBoundingClientRect();
          const inWindow = r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
          const box = el.closest('.log-scroll');
          if (!box) return inWindow && r.height > 0;
          const b = box.getBoundingClientRect();
          return inWindow && r.top >= b.top - 1 && r.bottom <= b.bottom + 1 && r.height > 0;
        }""",
    )


def sideways_scroll(page):
    """What scrolls sideways: the page itself, or any element (a table, the log) wider than its box."""
    return page.evaluate(
        """() => {
          const found = [];
          const doc = document.documentElement;
          if (doc.scrollWidth > innerWidth) found.push(`page: ${doc.scrollWidth} > ${innerWidth}`);
          for (const el of document.querySelectorAll('body *')) {
            const style = getComputedStyle(el);
            if (!['auto', 'scroll'].includes(style.overflowX)) continue;
            if (el.scrollWidth > el.clientWidth + 1) {
              const name = `${el.tagName.toLowerCase()}.${el.className}`;
              found.push(`${name}: ${el.scrollWidth} > ${el.clientWidth}`);
            }
          }
          return found;
        }"""
    )


def selected_seqs(page):
    return page.eval_on_selector_all("#log-lines li.selected", "els => els.map(e => Number(e.dataset.seq))")


def rendered_seqs(page):
    return page.eval_on_selector_all("#log-lines li.line", "els => els.map(e => Number(e.dataset.seq))")


# --- the tests ---------------------------------------------------------------
