"""What happened to a server or one of its jobs, for whoever listens (webhooks, ...).

Emitters (the supervisor, the job worker) only announce; they never wait on a
listener: a listener that has slow work to do (an HTTP call) records it and lets
its own loop do it. Event names are DESIGN.md §9's: `job.failed`, `job.succeeded`,
`server.crashed`, `server.update_available`, `server.autorestart_paused`.
"""

import logging

from django.db import OperationalError, connection, transaction
from django.dispatch import Signal

log = logging.getLogger(__name__)

# kwargs: name (str), server (Server), text (a sentence for people), job (Job or None)
server_event = Signal()


def emit(name, server, text, job=None):
    """Announce `name`; a failing listener is logged, never raised into the emitter."""
    for receiver, result in server_event.send_robust(
        sender=name, name=name, server=server, text=text, job=job
    ):
        if isinstance(result, Exception):
            log.error("listener %r of %s failed: %r", receiver, name, result)
    if connection.in_atomic_block and transaction.get_rollback():
        # A listener's write failed so that not even its savepoint could be undone (the
        # database went away mid-write). The emitter's transaction would then roll back
        # silently at its end, its own change (a job's final state) lost without an error:
        # raise, so the emitter retries the whole of it (db.until_answered).
        raise OperationalError(f"the database failed while {name} was recorded")
