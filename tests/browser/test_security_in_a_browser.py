"""The Content-Security-Policy as a browser enforces it: our pages work under it, untouched."""

import re

from jobs.models import Job, JobKind, JobLog, JobState

from .helpers import log_in, make_server


def test_pages_run_under_the_content_security_policy_without_a_single_violation(new_page, owner):
    server = make_server(owner, "Strict")
    job = Job.objects.create(server=server, kind=JobKind.INSTALL, state=JobState.SUCCEEDED, exit_code=0)
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream="stdout", line=f"line {i}") for i in range(1, 4)]
    )
    page = new_page(enforce_csp=True)
    violations = []
    page.on(
        "console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    log_in(page, owner)
    for path in (f"/servers/{server.id}", f"/servers/{server.id}/jobs", f"/jobs/{job.id}"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # The live log view (a script of ours, a WebSocket) worked: every line arrived.
    page.locator("#log-lines li.line").nth(2).wait_for()
    assert page.locator("#log-conn").inner_text() == "finished"
    assert re.search("line 3", page.locator("#log-lines").inner_text())
    assert violations == []
