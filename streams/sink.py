"""Batched, gap-free writing of numbered lines (job logs, consoles), by group commit.

Every `LineSink` numbers its lines 1, 2, 3... and hands them to the process's one writer
thread, which commits whatever is waiting, from every sink, in one transaction, then does it
again: a line that arrives while nothing is being written goes out at once, and lines that
arrive during a write ride together in the next one. No timer decides, so a trickle is written
with no delay and a flood in large batches (throughput rises with load instead of falling).

One thread writes, so batches commit in order and a reader polling `seq > last` always sees a
gap-free prefix. Memory stays bounded: past MAX_PENDING lines behind, producers wait (the child
process then blocks on its full pipe rather than the worker growing without limit).
"""

import itertools
import logging
import threading
import time

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

MAX_BATCH = 5000  # rows per transaction: keeps each write lock short
MAX_PENDING = 50_000  # rows waiting in memory before producers are held back
RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)


class LineSink:
    """Callable as `sink(stream, text)`: the lines of `owner_id` in a `numbered.NumberedLine`
    model; `on_written()` runs after each commit that included them (to wake the readers).

    A line may carry a `mark` (`sink(stream, text, mark)`): then `on_batch(cursor, mark)` runs
    inside the transaction that commits it, with the last mark among this sink's lines in it,
    so whatever the hook writes (how far a reader got in a file) commits with those lines.
    """

    def __init__(self, model, owner_id, *, last_seq=0, on_written=None, on_batch=None):
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(model._meta.get_field(model.owner_field).column)
        self.sql = (
            f"INSERT INTO {table} ({column}, seq, stream, line, created_at) VALUES (%s, %s, %s, %s, %s)"
        )
        self.owner_id = owner_id
        self.lines = model.objects.of(owner_id)
        self.name = f"{model._meta.label} of {model.owner_field} #{owner_id}"
        self.on_written = on_written
        self.on_batch = on_batch
        self.marks = []  # with on_batch: one mark (or None) per waiting row
        self.seq = last_seq  # last seq handed out
        self.written = last_seq  # last seq committed (or dropped, see `broken`)
        self.broken = False
        self.rows = []
        self.writer = _writer()

    def stored(self, seq):
        """Whether line `seq` of this sink is in the database."""
        return self.lines.filter(seq=seq).exists()

    def __call__(self, stream, text, mark=None):
        # PostgreSQL text cannot hold NUL; the rest of the line is kept as it was.
        text = text.replace("\x00", "\ufffd")
        self.writer.add(self, stream, text, mark)

    def flush(self):
        """Wait until every line handed to this sink so far is committed."""
        self.writer.wait_written(self)


class _Writer:
    def __init__(self):
        self.cond = threading.Condition()
        self.dirty = []  # sinks with rows waiting, in arrival order
        self.pending = 0
        threading.Thread(target=self._run, name="line-writer", daemon=True).start()

    def add(self, sink, stream, text, mark=None):
        with self.cond:
            while self.pending >= MAX_PENDING:
                self.cond.wait()
            sink.seq += 1
            sink.rows.append((sink.owner_id, sink.seq, stream, text))
            if sink.on_batch is not None:
                sink.marks.append(mark)
            if len(sink.rows) == 1:
                self.dirty.append(sink)
            self.pending += 1
            self.cond.notify_all()

    def wait_written(self, sink):
        with self.cond:
            target = sink.seq
            while sink.written < target:
                self.cond.wait()

    def _take(self):
        """The next batch: (sink, rows, last mark) runs, at most MAX_BATCH rows in all."""
        with self.cond:
            while not self.dirty:
                self.cond.wait()
            batch, room = [], MAX_BATCH
            while self.dirty and room > 0:
                sink = self.dirty[0]
                rows, sink.rows = sink.rows[:room], sink.rows[room:]
                mark = None
                if sink.on_batch is not None:
                    marks, sink.marks = sink.marks[: len(rows)], sink.marks[len(rows) :]
                    mark = next((m for m in reversed(marks) if m is not None), None)
                if not sink.rows:
                    self.dirty.pop(0)
                batch.append((sink, rows, mark))
                room -= len(rows)
            return batch

    def _run(self):
        while True:
            batch = self._take()
            self._write(batch)
            with self.cond:
                for sink, rows, _ in batch:
                    sink.written = rows[-1][1]
                    self.pending -= len(rows)
                self.cond.notify_all()
            for sink, _, _ in batch:
                if sink.on_written and not sink.broken:
                    try:
                        sink.on_written(sink.written)
                    except Exception:
                        log.exception("on_written hook failed")

    def _write(self, batch):
        """Commit the batch, retrying until the database takes it; never drop a line silently."""
        created = None
        for attempt in itertools.count():
            try:
                created = created or connection.ops.adapt_datetimefield_value(timezone.now())
                try:
                    with transaction.atomic():
                        with connection.cursor() as cursor:
                            for sink, rows, mark in batch:
                                _insert(cursor, sink, rows, mark, created)
                except IntegrityError:
                    # A line whose owner was deleted (a server removed mid-run) can never
                    # be written: write the others and drop only that sink's lines.
                    self._write_each(batch, created)
                return
            except DatabaseError as exc:
                delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                count = sum(len(rows) for _, rows, _ in batch)
                log.warning("writing %d lines failed, retrying in %ss: %s", count, delay, exc)
                connection.close()  # a fresh connection next time, whatever broke this one
                time.sleep(delay)

    def _write_each(self, batch, created):
        for sink, rows, mark in batch:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    _insert(cursor, sink, rows, mark, created)
            except IntegrityError as exc:
                if sink.stored(rows[-1][1]):
                    # An earlier try committed these, but the database went away before it
                    # said so (a restart mid-commit): they are there, nothing is lost.
                    continue
                sink.broken = True
                log.warning("dropped %d lines of %s: %s", len(rows), sink.name, exc)


def _insert(cursor, sink, rows, mark, created):
    cursor.executemany(sink.sql, [row + (created,) for row in rows])
    if mark is not None:
        sink.on_batch(cursor, mark)


_the_writer = None
_writer_lock = threading.Lock()


def _writer():
    global _the_writer
    with _writer_lock:
        if _the_writer is None:
            _the_writer = _Writer()
        return _the_writer
