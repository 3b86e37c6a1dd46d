"""The scheduler: a worker loop on each game host that runs its servers' due schedules.

A schedule is due when next_run_at has passed. Its run is claimed by moving
next_run_at on to the next slot after *now* with a conditional update (only while
it still holds the due time), so of several workers exactly one runs it, and a
schedule that missed slots while the panel was down runs once, not once per slot.
"""

import logging

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from l4d2site.loops import WorkerLoop

from . import actions
from .history import keep_newest
from .models import Schedule, ScheduleRun
from .models.schedules import RUNS_KEPT

log = logging.getLogger(__name__)


def due_schedules(node_name, now):
    """The node's enabled schedules whose next run has come.

    Due ones are found by the (enabled, next_run_at) index alone and sorted out by node
    here: filtering on the server's node in SQL lets SQLite walk every schedule of the
    node's servers instead, which grows with the number of schedules, not of due ones.
    """
    due = (
        Schedule.objects.filter(enabled=True, next_run_at__lte=now)
        .select_related("server__node")
        .order_by("next_run_at", "id")
    )
    return [s for s in due if (s.server.node.name if s.server.node else None) == (node_name or None)]


def run_due(node_name):
    """Run every due schedule of the node that this call wins; returns the runs it made."""
    now = timezone.now()
    runs = []
    for schedule in due_schedules(node_name, now):
        run = run_one(schedule, now)
        if run is not None:
            runs.append(run)
    return runs


@transaction.atomic
def run_one(schedule, now):
    """Claim the schedule's slot, do it and record the run: all or nothing, so a database
    outage half-way leaves the slot due (run once when it is back), never claimed but not run."""
    due_at = schedule.next_run_at
    if not schedule.claim(due_at, schedule.next_after(now)):
        return None  # another worker (or an edit) got there first
    try:
        with transaction.atomic():
            job, outcome = actions.run(schedule)
    except (OperationalError, InterfaceError):
        raise  # the database went away: the whole run again once it answers
    except Exception as exc:
        log.exception("schedule %s failed to run", schedule.pk)
        job, outcome = None, f"Failed: {type(exc).__name__}; details are in the worker's log."
    late = " late (its slot was missed)" if (now - due_at).total_seconds() >= 60 else ""
    log.info("schedule %s of server %s ran%s: %s", schedule.pk, schedule.server_id, late, outcome)
    run = ScheduleRun.objects.create(
        schedule=schedule, job=job, due_at=due_at, action=schedule.action, outcome=outcome
    )
    keep_newest(schedule.runs.all(), RUNS_KEPT)
    return run


class Scheduler(WorkerLoop):
    interval = 2.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.passes = 0

    def run_once(self):
        run_due(self.node_name)
        self.passes += 1
        if self.passes == 1:
            # Tests (and operators reading the log) learn that due and missed runs were looked at.
            log.info("scheduler: first pass done on %s", self.node_name or "the panel host")
