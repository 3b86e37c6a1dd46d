"""Server-Sent Events transport of the log stream (DESIGN.md §4), for curl -N and EventSource."""

import json

from asgiref.sync import sync_to_async
from django.http import Http404, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.views.decorators.http import require_GET

from .access import job_for_user
from .tail import stream_job


def parse_after(value):
    """A resume point: a non-negative integer seq; anything else is a client error."""
    if value in (None, ""):
        return 0
    if not value.isdigit():
        raise ValueError(f"after must be a non-negative integer seq, not {value[:40]!r}")
    return int(value)


def _dumps(data):
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse_frames(events):
    """Turn stream_job events into SSE text."""

    async def frames():
        yield "retry: 2000\n\n"
        async for event in events:
            kind = event[0]
            if kind == "lines":
                yield "".join(f"id: {row['seq']}\nevent: line\ndata: {_dumps(row)}\n\n" for row in event[1])
            elif kind == "state":
                yield f"event: state\ndata: {_dumps(event[1])}\n\n"
            elif kind == "ping":
                yield ": keep-alive\n\n"
            elif kind == "end":
                yield "event: end\ndata: {}\n\n"

    return frames()


@require_GET
async def job_events(request, job_id):
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponseForbidden("Log in to follow job logs.", content_type="text/plain")
    try:
        job = await sync_to_async(job_for_user)(user, job_id)
    except Http404:
        return HttpResponse("No such job.", status=404, content_type="text/plain")
    try:
        # EventSource sends Last-Event-ID on reconnect; it wins over ?after=.
        after = parse_after(request.headers.get("Last-Event-ID") or request.GET.get("after"))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    response = StreamingHttpResponse(
        sse_frames(stream_job(job.id, after)), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response
