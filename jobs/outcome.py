"""How a job ended, in words people read: the exit code, and the lines that decided a failure.

The worker closes every job's log with `closing_line()`; the failure reason is then
picked by stream and position around that line (never by parsing a program's prose):
the last system lines before it (what hostctl concluded, e.g. "steamcmd reported
state 0x202: not enough disk space") and the last run of stderr lines near them.
"""

import signal

from streams.ansi import strip_ansi

from .models import JobLog, JobState, LogStream

CLOSING_PREFIX = "Finished with exit code "
REASON_WINDOW = 200  # rows from the end of the log that are looked at
STDERR_REACH = 20  # a stderr line counts only this close to the end of the command's output
MAX_STDERR_LINES = 3
MAX_SYSTEM_LINES = 2


def describe_exit_code(code):
    """-15 -> "SIGTERM (-15)" (a negative code is the signal that ended the process); else the number."""
    if code is None:
        return "—"
    if code < 0:
        try:
            return f"{signal.Signals(-code).name} ({code})"
        except ValueError:
            return str(code)
    return str(code)


def exit_code_text(job):
    """The exit code as the job page shows it.

    A job cancelled while queued stores exit code 1 (DESIGN.md §2), but nothing ran,
    so no program exited: say so instead of a misleading "1".
    """
    if job.state == JobState.CANCELLED and job.started_at is None:
        return "cancelled before it ran"
    return describe_exit_code(job.exit_code)


def closing_line(code, seconds):
    """The system line the worker ends every job's log with (after it, only the server's new state)."""
    return f"{CLOSING_PREFIX}{describe_exit_code(code)} after {seconds:.1f} s."


def _is_closing(row):
    return row[1] == LogStream.SYSTEM and row[2].startswith(CLOSING_PREFIX)


def pick_reason(rows):
    """The decisive lines among `rows` ((seq, stream, line), in seq order, the end of a failed log).

    1. The command's own output ends before the worker's closing line (if there is one:
       a job whose worker died has none; its last line says so).
    2. Only the last phase counts: the earlier ones succeeded.
    3. The trailing system lines (at most 2): hostctl's verdict, or the recovery's note.
    4. The last run of stderr lines (at most 3) if it is among the last 20 lines:
       an old warning far above the failure did not decide it.
    """
    rows = list(rows)
    for index in range(len(rows) - 1, -1, -1):
        if _is_closing(rows[index]):
            rows = rows[:index]
            break
    for index in range(len(rows) - 1, -1, -1):
        if rows[index][1] == LogStream.PHASE:
            rows = rows[index + 1 :]
            break
    system = []
    for row in reversed(rows):
        if row[1] != LogStream.SYSTEM or len(system) == MAX_SYSTEM_LINES:
            break
        system.insert(0, row)
    stderr = []
    for row in reversed(rows[-STDERR_REACH:]):
        if row[1] == LogStream.STDERR:
            if len(stderr) == MAX_STDERR_LINES:
                break
            stderr.insert(0, row)
        elif stderr:
            break  # the run of stderr lines is over
    return sorted(stderr + system)


def failure_reason(job):
    """[(seq, stream, line), ...] that explain why a failed job failed; [] for any other job."""
    if job.state != JobState.FAILED:
        return []
    tail = JobLog.objects.filter(job_id=job.id).order_by("-seq").values_list("seq", "stream", "line")
    return [
        (seq, stream, strip_ansi(line)) for seq, stream, line in pick_reason(reversed(tail[:REASON_WINDOW]))
    ]
