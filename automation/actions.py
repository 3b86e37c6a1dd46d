"""What a schedule does when it comes due: queue a job, or send a console command.

`run_console_command` sends straight to the console on the game host (the
scheduler runs in the node's worker, on that host). When the console app's
ConsoleCommand path lands, this one function switches to it (the command then
shows in the console history with the schedule as its sender).
"""

from jobs.models import Job, JobKind, JobTrigger
from servers import l4d2_facade
from servers.models import ActualState, DesiredState

from .models import ScheduleAction

KINDS = {
    ScheduleAction.RESTART: JobKind.RESTART,
    ScheduleAction.UPDATE: JobKind.UPDATE,
    ScheduleAction.START: JobKind.START,
    ScheduleAction.STOP: JobKind.STOP,
}


def run(schedule):
    """Do what `schedule` says now; returns (job or None, a sentence for the run history)."""
    server = schedule.server
    if schedule.action == ScheduleAction.COMMAND:
        return None, run_console_command(schedule)
    if schedule.action == ScheduleAction.RESTART and server.desired_state == DesiredState.STOPPED:
        # A nightly restart must not bring back a server its owner stopped.
        return None, "Skipped: the server is meant to be stopped (its last action was Stop)."
    job = Job.enqueue(server, KINDS[schedule.action], None, trigger=JobTrigger.SCHEDULE)
    if job.duplicate:
        return job, f"Already queued as job #{job.id}."
    return job, f"Queued as job #{job.id}."


def run_console_command(schedule):
    """Send the schedule's command line to the running server's console; what happened, in a sentence."""
    server = schedule.server
    if server.actual_state != ActualState.RUNNING:
        return f"Not sent: the server is {server.get_actual_state_display().lower()}."
    if l4d2_facade.send_console(server.id, schedule.command):
        return f"Sent to the console: {schedule.command}"
    return "Not sent: the server's console did not accept it (is the server running?)."
