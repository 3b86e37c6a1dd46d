"""Database helpers shared by the apps."""

import functools
import logging
import time

from django.conf import settings
from django.db import OperationalError, connections, models

log = logging.getLogger(__name__)


def retry_locked(fn=None, *, attempts=20, delay=0.05):
    """Decorator: retry SQLite's transient "database is locked" instead of failing the work.

    Only for idempotent units of work (one conditional UPDATE, one transaction):
    the whole function runs again.
    """
    if fn is None:
        return functools.partial(retry_locked, attempts=attempts, delay=delay)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(attempts):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                log.warning("database is locked, retrying %s (%s)", fn.__name__, attempt + 1)
                time.sleep(min(1.0, delay * 2**attempt))

    return wrapper


def optional_fk(to, *, related_name="+", on_delete=models.SET_NULL, help_text=""):
    """A foreign key that may be empty: who asked for something, which host a server is on..."""
    return models.ForeignKey(
        to, null=True, blank=True, on_delete=on_delete, related_name=related_name, help_text=help_text
    )


def optional_user_fk(**kwargs):
    return optional_fk(settings.AUTH_USER_MODEL, **kwargs)


def close_after_request(**kwargs):
    """request_finished: close this thread's connections (PostgreSQL: back to the pool).

    Under ASGI each request runs its sync code in a thread of its own that ends with the
    request, so a connection kept there for reuse (CONN_MAX_AGE) is never reused, only
    leaked: 100 concurrent page loads left 180 SQLite descriptors open in Daphne. A
    connection inside a transaction (a test's) is left alone.
    """
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close()
