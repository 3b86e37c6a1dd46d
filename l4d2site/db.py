"""Database helpers shared by the apps."""

import asyncio
import functools
import itertools
import logging
import time
from datetime import UTC

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections, models
from django.utils import timezone

from .sync_threads import on_warm_thread

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


# Waits between tries while the database is away: quick at first (a lock, a blip), then
# every few seconds for as long as it takes (a restart, a failover).
OUTAGE_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)


def until_answered(fn, *, noticed=None):
    """fn(), tried again until the database answers; for bookkeeping that must not be lost.

    A job's end, its server's state, the panel's own records: an outage (a restart, a
    dropped connection, a lock) must delay them, never turn them into an error. `fn`
    must be safe to run again: one statement, or one transaction whose answer may have
    been lost after it committed (check for that in `fn`). `noticed(seconds)` is called
    once the database answers after it had failed, with how long it was away. Details go
    to this process's log; people are told in words by the caller.
    """
    began = None
    for attempt in itertools.count():
        try:
            result = fn()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block:
                raise  # whoever owns the transaction retries it whole
            began = began or time.monotonic()
            delay = OUTAGE_DELAYS[min(attempt, len(OUTAGE_DELAYS) - 1)]
            log.warning("database unavailable for %s, retry in %ss: %s", _name(fn), delay, _first_line(exc))
            forget_connection()
            time.sleep(delay)
            continue
        if began is not None and noticed is not None:
            noticed(time.monotonic() - began)
        return result


def forget_connection():
    """Drop this thread's connection after an error, whatever its state: the next query opens anew."""
    try:
        connection.close()
    except DatabaseError:
        pass


def _name(fn):
    return getattr(fn, "__qualname__", repr(fn))


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def fetch(sql, params=()):
    """The rows of one SELECT, as tuples: for the reads a busy page makes on every load, where
    Django building the query and its objects costs ten to twenty times running it (0.2-0.4 ms
    against 0.02: bench/page_floor.py). Parameters are bound, never formatted in; a datetime
    column comes back through `aware`."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def aware(value):
    """A datetime column read by `fetch`, aware: SQLite hands it over naive, in UTC (as Django
    stores it there), PostgreSQL aware already."""
    return value if value is None or timezone.is_aware(value) else timezone.make_aware(value, UTC)


def utc_param(value):
    """An aware datetime as a `fetch` parameter: naive, in UTC, as Django writes it into SQLite
    (where it is compared as text); PostgreSQL reads it in the session's zone, UTC under USE_TZ."""
    return timezone.make_naive(value, UTC)


def optional_fk(to, *, related_name="+", on_delete=models.SET_NULL, help_text=""):
    """A foreign key that may be empty: who asked for something, which host a server is on..."""
    return models.ForeignKey(
        to, null=True, blank=True, on_delete=on_delete, related_name=related_name, help_text=help_text
    )


def optional_user_fk(**kwargs):
    return optional_fk(settings.AUTH_USER_MODEL, **kwargs)


def release_connections(**kwargs):
    """Close this thread's connections now (PostgreSQL: back to the pool), unless in a
    transaction or kept for the next request on this thread.

    A request_finished receiver under ASGI: a request whose sync code ran in a thread of its
    own that ends with it (Django's way, and ours when every warm thread is stuck) would leak a
    connection kept for reuse (100 concurrent page loads left 180 SQLite descriptors open in
    Daphne). On a warm thread (l4d2site.sync_threads) a connection with CONN_MAX_AGE (SQLite)
    stays for the next request there; PostgreSQL's goes back to its pool regardless. Also
    called by a long response (a followed log) once its checks are done, so it does not hold
    a pooled connection while it waits for lines. A connection inside a transaction (a
    test's) is left alone.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return  # an event loop's own thread (a test's async client): it holds no sync connection to give back
    warm = on_warm_thread.get()
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block and not (warm and conn.settings_dict["CONN_MAX_AGE"]):
            conn.close()
