"""Batched, gap-free log writing for one running job."""

import threading
import time

from django.db import connection, transaction
from django.utils import timezone

from .dbretry import retry_locked
from .models import JobLog
from .notify import notify_job

MAX_LINES = 500
# Seconds a line may wait before it is written. Under load batches fill to MAX_LINES
# long before this; for a trickle it bounds print-to-screen latency (with Redis the
# viewers see a line about this long after it was printed).
MAX_DELAY = 0.02

_INSERT = None


def _insert_sql():
    global _INSERT
    if _INSERT is None:
        table = connection.ops.quote_name(JobLog._meta.db_table)
        _INSERT = f"INSERT INTO {table} (job_id, seq, stream, line, created_at) VALUES (%s, %s, %s, %s, %s)"
    return _INSERT


class LogSink:
    """Callable as `sink(stream, text)`; assigns seq 1, 2, 3... and writes in batches.

    Lines are written at most MAX_DELAY after they arrive (the worker's loop calls
    `flush_if_due`) or as soon as MAX_LINES are waiting, in one transaction per
    batch, never one per line. Flushes are serialised, so batches commit in seq
    order and readers polling `seq > last` always see a gap-free prefix.
    """

    def __init__(self, job_id, last_seq=0):
        self.job_id = job_id
        self.seq = last_seq
        self._rows = []
        self._first_at = None
        self._lock = threading.Lock()  # guards seq and the buffer
        self._flush_lock = threading.Lock()  # one batch in flight at a time

    def __call__(self, stream, text):
        # PostgreSQL text cannot hold NUL; the rest of the line is kept as it was.
        text = text.replace("\x00", "\ufffd")
        with self._lock:
            self.seq += 1
            self._rows.append((self.job_id, self.seq, stream, text))
            if self._first_at is None:
                self._first_at = time.monotonic()
            full = len(self._rows) >= MAX_LINES
        if full:
            self.flush()

    def flush_if_due(self):
        first = self._first_at
        if first is not None and time.monotonic() - first >= MAX_DELAY:
            self.flush()

    def flush(self):
        with self._flush_lock:
            with self._lock:
                rows, self._rows, self._first_at = self._rows, [], None
            if not rows:
                return
            created = connection.ops.adapt_datetimefield_value(timezone.now())
            params = [row + (created,) for row in rows]

            def write():
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.executemany(_insert_sql(), params)

            retry_locked(write)
        notify_job(self.job_id)
