"""The file relay: file operations carried from the web process to the worker of the server's node.

The way console commands travel: the database carries the request and the answer, a
nudge wakes the other side at once (local datagrams on one host, Redis across hosts;
streams.layer), and both sides also poll, so a lost nudge costs latency, never an
answer. One `FileRequest` row per operation: the web process inserts it, with the
bytes to write in a BinaryField (bytes as bytes: no base64, no chunks, one INSERT);
the worker claims it with a conditional update, runs it through hostctl.files on the
game host, and writes the answer (JSON, and the bytes read) into the same row with one
UPDATE; the web process reads it in one SELECT and deletes the row. A 16 MiB file thus
crosses the database once each way (bench/files.py measures it).

The game host checks every path at the moment of use; the checks here only spare a
round trip for what is plainly wrong. Nobody answering within L4D2_FILE_TIMEOUT_SECONDS
is HostTimeout (504); if the worker had not claimed the request by then it is withdrawn,
so a timed-out write never happens later behind the user's back.

Other parts of the panel code against the functions below; each raises a
servers.files.errors.FileError subclass (with `.status` and `.detail`) when refused.
"""

import threading
import time
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings

from hostctl.files import parts_of
from streams import layer

from ..l4d2_facade import file_max_bytes
from ..models import FileRequest
from .errors import HostTimeout, TooLarge, from_answer

ANSWERED_GROUP = "files.answered"  # every worker tells every web process: request <seq> is answered
POLL = 0.02  # seconds between looks at the answer when no nudge can come (no Redis, no local wake-ups)
POLL_NUDGED = 0.25  # ... when one can: this only bounds what a lost nudge costs


def node_group(node_name):
    """The channel-layer group the file relay of a node's worker listens to."""
    return f"files.node.{node_name}" if node_name else "files.panel"


@dataclass(frozen=True)
class FileContent:
    path: str
    data: bytes
    size: int
    modified: str  # ISO 8601, UTC
    sha256: str


def list_dir(server, path):
    """`{"path", "entries": [{"name", "type": "file"|"dir", "size", "modified"}]}`: every entry,
    folders first, then by name."""
    return _call(server, "list", {"path": _checked(path)})


def read_file(server, path):
    result, data = _call_with_data(server, "read", {"path": _checked(path)})
    return FileContent(data=data, **result)


def write_file(server, path, data, *, expected_sha256=None):
    """Replace (or make) the file; `expected_sha256`: Conflict if the file on disk is not that one."""
    data = bytes(data)
    limit = file_max_bytes()
    if len(data) > limit:
        size, most = _mib(len(data)), _mib(limit)
        raise TooLarge(f"The file is {size}; files of at most {most} move through the panel.")
    args = {"path": _checked(path), "expected_sha256": expected_sha256}
    return _call(server, "write", args, payload=data)


def rename(server, src, dst):
    return _call(server, "rename", {"from": _checked(src), "to": _checked(dst)})


def mkdir(server, path):
    return _call(server, "mkdir", {"path": _checked(path)})


def delete(server, paths):
    return _call(server, "delete", {"paths": [_checked(path) for path in paths]})


# --- the round trip ----------------------------------------------------------------------


def _checked(path):
    parts_of(path)  # BadPath at once for `..`, an absolute path, a NUL
    return path


def _call(server, op, args, payload=None):
    return _call_with_data(server, op, args, payload)[0]


def _call_with_data(server, op, args, payload=None):
    node_name = server.node.name if server.node_id else None
    if not _worker_alive(node_name):
        raise HostTimeout(f"No worker is running on {_where(node_name)}: its files cannot be reached.")
    _answers.listen()
    request = FileRequest.objects.create(server=server, op=op, args=args, payload=payload)
    rows = FileRequest.objects.filter(pk=request.pk)
    answered = _answers.expect(request.pk)
    try:
        layer.publish(node_group(node_name), {"type": "files.request", "seq": request.pk})
        deadline = time.monotonic() + settings.L4D2_FILE_TIMEOUT_SECONDS
        poll = POLL_NUDGED if layer.enabled() or settings.LOCAL_WAKEUPS else POLL
        while not rows.filter(answered_at__isnull=False).exists():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # Only one of this delete and the worker's claim succeeds: an unclaimed request
                # withdrawn here is never run; a claimed one is answered later, to nobody.
                where = _where(node_name).capitalize()
                if rows.filter(claimed_at=None).delete()[0]:
                    raise HostTimeout(f"{where} did not answer: nothing was changed.")
                raise HostTimeout(f"{where} did not answer in time; it may still finish the operation.")
            answered.wait(min(poll, remaining))
            answered.clear()
        status, result, data = rows.values_list("status", "result", "data").get()
        rows.delete()
    finally:
        _answers.forget(request.pk)
    if status != 200:
        raise from_answer(status, result.get("detail", "The game host refused."))
    return result, bytes(data) if data is not None else None


def _worker_alive(node_name):
    # Through the app registry: the worker rows are jobs', and servers does not import jobs.
    workers = apps.get_model("jobs", "WorkerProcess").objects.alive()
    return workers.filter(node_name=node_name or "").exists()


def _where(node_name):
    return f"the game host {node_name}" if node_name else "the game host"


def _mib(size):
    return f"{size / 1024 / 1024:.1f} MiB"


class _Answers:
    """The process's one subscription to the workers' "answered" nudges, and who waits for which."""

    def __init__(self):
        self.lock = threading.Lock()
        self.subscription = None
        self.waiting = {}  # request id -> threading.Event

    def listen(self):
        with self.lock:
            if self.subscription is None:
                self.subscription = layer.Subscription(ANSWERED_GROUP, self._answered)

    def expect(self, request_id):
        event = threading.Event()
        with self.lock:
            self.waiting[request_id] = event
        return event

    def forget(self, request_id):
        with self.lock:
            self.waiting.pop(request_id, None)

    def _answered(self, seq):
        with self.lock:
            event = self.waiting.get(seq)
        if event is not None:
            event.set()


_answers = _Answers()
