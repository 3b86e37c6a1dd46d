"""The monitor's restart of a crashed server, as a job (DESIGN.md §8).

`servers` records a crash and sends `restart_requested` inside its transaction;
this receiver queues the `restart` job there too (trigger monitor, no requester,
parent: the job that started the server that crashed) and writes the crash report
as the job's first log lines, so the log opens with why it runs. The worker's
sink goes on after them.
"""

from servers.crashes import restart_requested

from .models import Job, JobKind, JobLog, JobState, JobTrigger, LogStream


def restart_after_crash(sender, crash, **kwargs):
    server = crash.server
    waiting = server.jobs.filter(state=JobState.QUEUED, kind__in=(JobKind.START, JobKind.RESTART)).first()
    if waiting:
        return waiting  # someone already asked for it to run again
    parent = server.jobs.filter(kind__in=(JobKind.START, JobKind.RESTART)).order_by("-id").first()
    reason = f"after a crash ({crash.get_reason_display()})"
    job = Job.enqueue(
        server, JobKind.RESTART, None, trigger=JobTrigger.MONITOR, parent=parent, detail={"reason": reason}
    )
    lines = crash_report(crash)
    JobLog.objects.bulk_create(
        JobLog(job=job, seq=seq, stream=stream, line=line) for seq, (stream, line) in enumerate(lines, 1)
    )
    return job


def crash_report(crash):
    """(stream, line) pairs: the reason, then the console's last lines as srcds printed them."""
    when = crash.at.strftime("%Y-%m-%d %H:%M:%S UTC")
    report = [
        (LogStream.SYSTEM, f"The server crashed at {when}; the supervisor restarts it."),
        (LogStream.STDERR, f"Crash reason: {crash.get_reason_display()}. {crash.detail}"),
    ]
    if crash.last_lines:
        report.append((LogStream.SYSTEM, f"Its last {len(crash.last_lines)} console lines:"))
        report.extend((LogStream.STDOUT, line) for line in crash.last_lines)
    else:
        report.append((LogStream.SYSTEM, "Its console printed nothing."))
    return report


def connect():
    restart_requested.connect(restart_after_crash, dispatch_uid="jobs.autorestart")
