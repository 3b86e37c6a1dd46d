"""Template tags for job tables and for the job parts of server pages.

Server pages show a server's actions and recent jobs through these tags, so the
`servers` app never imports `jobs` (imports point down: jobs -> servers).
"""

from django import template
from django.core.cache import caches
from django.core.cache.utils import make_template_fragment_key
from django.utils.safestring import mark_safe

from servers import permissions
from servers.access import permissions_of
from servers.models import ActualState, heard_lately

from ..access import KIND_PERMISSION
from ..models import FINISHED_STATES, LIFECYCLE_KINDS, JobKind, JobState
from ..outcome import exit_code_text
from ..rules import WARNED_KINDS, why_not

register = template.Library()

RECENT_JOBS = 10


@register.filter
def duration(delta):
    """A timedelta as H:MM:SS (or M:SS under an hour), like CI job pages show it."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def row_key(row, show_server):
    """Everything a finished job's row shows, as the key of its kept copy (`job_rows`), from its
    `JobQuerySet.row_keys` tuple: with the server column, the server's name and its node's
    badge (online, or offline since)."""
    key = (row.id, row.state, row.finished_at, row.updated_at, row.requested_by__username)
    if not show_server:
        return key
    heartbeat = row.server__node__last_heartbeat
    if row.server__node__name is None:
        badge = None
    else:
        badge = ("online",) if heard_lately(heartbeat) else ("offline", heartbeat)
    return (*key, row.server__name, row.server__node__name, badge)


ROW = "jobs/_job_row.html"


@register.simple_tag(takes_context=True)
def job_rows(context, rows, source):
    """The table's rows: `rows` says what each shows (`JobQuerySet.row_keys`), `source` (the
    jobs they came from: `server.jobs`, `Job.objects`) gives the whole jobs, read with what
    the table draws (`for_table`) only for rows not kept.

    A finished job's row is drawn once per process and kept (CACHES["fragments"]), keyed on
    everything it shows (`row_key`); the table's kept rows are read in one `get_many`. A job
    still going is drawn every time: its Cancel form carries this session's CSRF token. A job
    deleted between the two reads (pruned) leaves the table."""
    show_server, selectable = context.get("show_server"), context.get("selectable")
    staff = getattr(context.get("user"), "is_staff", False)
    keys = {
        row.id: make_template_fragment_key("job_row", [row_key(row, show_server), selectable, staff])
        for row in rows
        if row.state in FINISHED_STATES
    }
    kept = caches["fragments"].get_many(keys.values())
    missing = [row.id for row in rows if keys.get(row.id) not in kept]
    jobs = source.for_table(server_column=bool(show_server)).in_bulk(missing) if missing else {}
    template = context.template.engine.get_template(ROW)
    html, drawn = [], {}
    for row in rows:
        key = keys.get(row.id)
        if key in kept:
            html.append(kept[key])
        elif job := jobs.get(row.id):
            with context.push(job=job):
                html.append(template.render(context))
            if key:
                drawn[key] = html[-1]
    caches["fragments"].set_many(drawn)
    return mark_safe("".join(html))  # each drawn by the row template, which escaped it


@register.filter
def warns_players(job):
    """Whether the job's kind warns a running server's players before taking it down."""
    return job.kind in WARNED_KINDS


@register.filter
def exit_code(job):
    """The job's exit code as people read it: "SIGTERM (-15)", "cancelled before it ran"."""
    return exit_code_text(job)


# How a finished job's bar reads; while it runs, the bar shows the percent (jobpage.js keeps it current).
ENDED_AT = {JobState.FAILED: "Failed at {}%", JobState.CANCELLED: "Cancelled at {}%"}


@register.inclusion_tag("jobs/_progress.html")
def progress_bar(job):
    """One bar for the whole job, in whole percents; a finished job's says how it ended, in its colour."""
    percent = job.progress or 0
    if job.state == JobState.SUCCEEDED:
        return {"job": job, "percent": percent, "width": 100, "label": "Succeeded"}
    label = ENDED_AT.get(job.state, "{}%").format(percent)
    return {"job": job, "percent": percent, "width": percent, "label": label}


@register.inclusion_tag("jobs/_job_table.html", takes_context=True)
def recent_jobs(context, server):
    """The server's latest jobs in THE job table."""
    rows = server.jobs.row_keys(server_column=False)[:RECENT_JOBS]
    return {**context.flatten(), "jobs": rows, "source": server.jobs, "show_server": False}


@register.inclusion_tag("servers/_actions.html", takes_context=True)
def job_actions(context, server):
    """One POST button per job kind, enqueueing it on the server; disabled, with why, when pointless."""
    primary = _primary(server.actual_state)
    held = context.get("perms")
    if held is None:
        held = permissions_of(context["request"].user, server)
    actions = [
        {
            "kind": kind,
            "label": kind.label,
            "why": _why(kind, server, held),
            "primary": kind in primary,
            "confirm": _confirm(kind, server),
        }
        for kind in LIFECYCLE_KINDS
    ]
    return {**context.flatten(), "server": server, "actions": actions}


# What each kind does to the players on the server, for the browser's "are you sure".
DISRUPTS = {
    JobKind.STOP: "stops the server",
    JobKind.RESTART: "restarts the server",
    JobKind.UPDATE: "may restart the server for an update",
    JobKind.INSTALL: "checks every game file (the server must be stopped)",
}


@register.simple_tag
def confirm_question(kind, server):
    """What a button doing `kind` asks before it submits ("" when nobody is on)."""
    return _confirm(kind, server)


def _confirm(kind, server):
    """The question the button asks before it submits when players are on ("" otherwise)."""
    players = server.player_count or 0
    if kind not in DISRUPTS or players == 0:
        return ""
    return (
        f"{players} player{'' if players == 1 else 's'} on {server.name}. "
        f"{JobKind(kind).label} {DISRUPTS[kind]}; they are warned first. Go ahead?"
    )


def _primary(state):
    """The next step a person most likely wants, highlighted."""
    if state == ActualState.NOT_INSTALLED:
        return (JobKind.INSTALL,)
    if state in (ActualState.RUNNING, ActualState.UNRESPONSIVE):
        return ()
    if state == ActualState.UNKNOWN:
        return (JobKind.INSTALL, JobKind.START)
    return (JobKind.START,)


@register.simple_tag(takes_context=True)
def job_may(context, job, name):
    """Whether the viewer holds `name` on the job's server (`re-run`: the job kind's permission)."""
    name = KIND_PERMISSION[job.kind] if name == "re-run" else name
    return name in permissions_of(context["request"].user, job.server)


@register.simple_tag
def rerun_why_not(job):
    """Why re-running the job makes no sense now ("" if it does): the rule of its kind's button."""
    return why_not(job.kind, job.server)


def _why(kind, server, held):
    """Why the button is off: the member may not (first: it is theirs to know), or it makes no sense now."""
    needed = KIND_PERMISSION[kind]
    return permissions.reason(needed) if needed not in held else why_not(kind, server)
