"""What a schedule does when it comes due: queue a job, or send a console command.

A console command goes the way a typed one does (servers.console.commands): stored,
delivered by the console pump of the server's host, shown in its console and in the
command audit, sent by "the panel".
"""

from addons import workshop
from backups import service
from jobs.models import Job, JobKind, JobTrigger
from jobs.models.job import QueueFull
from servers.console.commands import Refused, submit
from servers.models import DesiredState

from .models import ScheduleAction

KINDS = {
    ScheduleAction.RESTART: JobKind.RESTART,
    ScheduleAction.UPDATE: JobKind.UPDATE,
    ScheduleAction.START: JobKind.START,
    ScheduleAction.STOP: JobKind.STOP,
}


def run(schedule, *, user=None, request=None):
    """Do what `schedule` says now; returns (job or None, a sentence for the run history).

    `user`: a person pressed "Run now" (the job or command is theirs); else its slot came.
    """
    server = schedule.server
    if schedule.action == ScheduleAction.COMMAND:
        return None, run_console_command(schedule, user=user, request=request)
    if schedule.action == ScheduleAction.WORKSHOP_UPDATE:
        return run_workshop_update(schedule, user=user, request=request)
    if schedule.action == ScheduleAction.BACKUP:
        return run_backup(schedule, user=user, request=request)
    if schedule.action == ScheduleAction.RESTART and server.desired_state == DesiredState.STOPPED:
        # A nightly restart must not bring back a server its owner stopped.
        return None, "Skipped: the server is meant to be stopped (its last action was Stop)."
    try:
        job = Job.enqueue(
            server,
            KINDS[schedule.action],
            user,
            trigger=JobTrigger.SCHEDULE if user is None else JobTrigger.USER,
            request=request,
            detail={"schedule": str(schedule)},
        )
    except QueueFull as full:
        return None, f"Skipped: {full}"
    if job.duplicate:
        return job, f"Already queued as job #{job.id}."
    return job, f"Queued as job #{job.id}."


def run_workshop_update(schedule, *, user=None, request=None):
    """Queue the update of the server's Workshop items; (job or None, a sentence)."""
    trigger = JobTrigger.SCHEDULE if user is None else JobTrigger.USER
    try:
        job = workshop.update_all(
            schedule.server, user, trigger=trigger, request=request, detail={"schedule": str(schedule)}
        )
    except workshop.Refused as refused:
        return None, f"Skipped: {refused.reason}"
    except QueueFull as full:
        return None, f"Skipped: {full}"
    if job is None:
        return None, "Skipped: the server has no Workshop items."
    if job.duplicate:
        return job, f"Already queued as job #{job.id}."
    return job, f"Queued as job #{job.id}."


def run_backup(schedule, *, user=None, request=None):
    """Start a backup (at the server's limit, the oldest unlocked one goes once it is made;
    a person's "Run now" at the limit is refused, as their Back up now would be)."""
    trigger = JobTrigger.SCHEDULE if user is None else JobTrigger.USER
    try:
        _, job = service.start_backup(
            schedule.server, user, trigger=trigger, request=request, detail={"schedule": str(schedule)}
        )
    except service.Refused as refused:
        return None, f"Skipped: {refused.reason}"
    except QueueFull as full:
        return None, f"Skipped: {full}"
    return job, f"Queued as job #{job.id}."


def run_console_command(schedule, *, user=None, request=None):
    """Queue the schedule's command line for the server's console; what happened, in a sentence."""
    via = "schedule" if user is None else "web"
    try:
        submit(
            schedule.server,
            user,
            schedule.command,
            request=request,
            via=via,
            detail={"schedule": str(schedule)},
        )
    except Refused as refused:
        return f"Not sent: {refused.reason}"
    return f"Sent to the console: {schedule.command}"
