"""A job, its cancel and re-run, its lines (DESIGN.md §12). Its live log: the SSE and WebSocket
streams of §4, with the same `Authorization: Bearer` header."""

from ninja import Router, Status

from jobs.access import KIND_PERMISSION, job_for_user
from jobs.models import CancelOutcome, Job, JobTrigger
from jobs.rules import refusal
from jobs.source import JobSource
from servers.access import require

from .. import representations as show
from ..errors import ApiError

router = Router(tags=["jobs"])

LINES_MAX = 5000


@router.get("/jobs/{int:job_id}", url_name="job")
def job(request, job_id: int):
    return show.job(request, job_for_user(request.user, job_id))


@router.post("/jobs/{int:job_id}/cancel", url_name="job_cancel")
def cancel(request, job_id: int):
    """Cancel a queued job, or stop a running one; 409 once it has finished."""
    target = job_for_user(request.user, job_id, "jobs.cancel")
    outcome = target.request_cancel(request.user, request=request)
    if outcome == CancelOutcome.FINISHED:
        raise ApiError(409, outcome.label)
    target.refresh_from_db()
    return {**show.job(request, target), "outcome": outcome.value}


@router.post("/jobs/{int:job_id}/retry", response={201: dict}, url_name="job_retry")
def retry(request, job_id: int):
    """The same kind on the same server again, as a new job; 409 while this one is not finished."""
    target = job_for_user(request.user, job_id)
    require(request.user, target.server, KIND_PERMISSION[target.kind])
    if not target.is_finished:
        raise ApiError(409, f"Job #{target.id} is {target.state}: it can be re-run once it has finished.")
    if why := refusal(target.kind, target.server):
        raise ApiError(409, why)
    new = Job.enqueue(
        target.server, target.kind, request.user, trigger=JobTrigger.RETRY, parent=target, request=request
    )
    return Status(201, {**show.job(request, new), "duplicate": new.duplicate})


@router.get("/jobs/{int:job_id}/lines", url_name="job_lines")
def lines(request, job_id: int, after: int = 0, limit: int = LINES_MAX):
    """The job's lines after `after` (§4 line objects, at most `limit`), and whether more will come:
    follow a job to its end by asking again with the last seq until `finished` is true and
    `lines` is empty."""
    target = job_for_user(request.user, job_id)
    rows = JobSource(target.id).read_lines(max(0, after), max(1, min(LINES_MAX, limit)))
    return {"lines": rows, "state": target.state, "finished": target.is_finished}
