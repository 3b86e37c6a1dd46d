"""When a job kind makes sense for a server as it is now: the one rule the buttons, a POST of
the kind, a re-run and the API all follow, so none of them can do what another refuses."""

from l4d2site.db import fetch
from servers.models import ActualState, DesiredState

from .models import Job, JobKind, JobState

LIVE_STATES = (ActualState.RUNNING, ActualState.UNRESPONSIVE)
# The kinds whose job warns a running server's players before taking it down (hostctl).
WARNED_KINDS = (JobKind.RESTART, JobKind.STOP, JobKind.UPDATE, JobKind.RESTORE)
# The kinds whose job works on a backup row: made and restored from the backups page (backups/).
BACKUP_KINDS = (JobKind.BACKUP, JobKind.RESTORE)


def why_not(kind, server):
    """Why `kind` makes no sense for the server as it is now ("" if it does)."""
    state, desired = server.actual_state, server.desired_state
    if kind in BACKUP_KINDS:
        return "Backups are made and restored on the server's Backups page."
    live = state in LIVE_STATES
    if kind == JobKind.INSTALL:
        # Validating rewrites every file under a live server (hostctl refuses it too).
        return "Stop it first (Update stops and starts it for you)." if live else ""
    if state == ActualState.NOT_INSTALLED:
        return "Install it first."
    if kind == JobKind.START and live:
        return "It is already running."
    if kind == JobKind.START and install_unfinished(server):
        return "The last install did not finish, so its files may be incomplete: run Install again."
    if kind == JobKind.STOP and state == ActualState.STOPPED and desired == DesiredState.STOPPED:
        return "It is not running."
    return ""


def refusal(kind, server):
    """The sentence a 409 answers with when `kind` makes no sense now, else ""."""
    why = why_not(kind, server)
    return f"{JobKind(kind).label} of {server.name} is not possible now: {why}" if why else ""


# The newest install that ran, and whether it broke with no update run since: each one step
# down the `job_server_kind` index (server, kind, -id). "The newest of both" let SQLite walk the
# server's whole history (200,000 restarts since: 42 ms), and a maximum over both read every
# update it ever ran (180,000 of a million jobs: 80 ms). One statement: through the ORM, as two
# queries, this cost the server page 0.8 ms of its 8 (bench/page_floor.py); run, 0.02 ms.
INSTALL_UNFINISHED = f"""
    SELECT i.state IN (%s, %s) AND NOT EXISTS (
        SELECT 1 FROM {Job._meta.db_table} u
        WHERE u.server_id = i.server_id AND u.kind = %s AND u.id > i.id AND u.state <> %s)
    FROM {Job._meta.db_table} i
    WHERE i.server_id = %s AND i.kind = %s AND i.state <> %s
    ORDER BY i.id DESC LIMIT 1"""


def install_unfinished(server):
    """Whether the server's latest install (or update) job that ran was an install that failed or
    was cancelled: steamcmd may have left the files half checked, whatever build they claim."""
    params = (JobState.FAILED, JobState.CANCELLED, JobKind.UPDATE, JobState.QUEUED)
    rows = fetch(INSTALL_UNFINISHED, (*params, server.id, JobKind.INSTALL, JobState.QUEUED))
    return bool(rows and rows[0][0])
