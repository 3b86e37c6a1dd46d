"""The file relay's side in the worker of a node: it runs the requests for that node's servers.

A `WorkerLoop` (l4d2site/loops.py) woken at once by the web process's nudge (see
relay.py). Each request is claimed with a conditional update (one worker wins), run
against the disk by hostctl.files (every path checked there, at the moment of use),
and answered in the same row; then the web processes are nudged. A request older than
the web side's wait is never run: its asker has given up (and withdrawn it).
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from l4d2site.loops import WorkerLoop
from streams import layer

from .. import l4d2_facade
from ..models import FileRequest
from .errors import FileError
from .relay import ANSWERED_GROUP, node_group

log = logging.getLogger(__name__)

BATCH = 20  # requests served per pass before looking at the rest of the loop's duties
PRUNE_SECONDS = 60.0


class FileRelayLoop(WorkerLoop):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        nudgeable = layer.enabled() or settings.LOCAL_WAKEUPS
        # Without nudges this poll is the whole latency; with them it only covers a lost one.
        self.interval = 0.25 if nudgeable else 0.02
        self.pruned_at = 0.0

    @property
    def wake_group(self):
        return node_group(self.node_name)

    def run_once(self):
        now = timezone.now()
        timeout = timedelta(seconds=settings.L4D2_FILE_TIMEOUT_SECONDS)
        pending = FileRequest.objects.filter(claimed_at=None, created_at__gte=now - timeout)
        if self.node_name:
            pending = pending.filter(server__node__name=self.node_name)
        else:
            pending = pending.filter(server__node__isnull=True)
        ids = list(pending.order_by("id").values_list("id", flat=True)[:BATCH])
        for request_id in ids:
            self.serve(request_id)
        if len(ids) == BATCH:
            self.wake()  # more are waiting: no sleep
        if time.monotonic() - self.pruned_at > PRUNE_SECONDS:
            self.pruned_at = time.monotonic()
            # Rows the web process did not delete (it died, or gave up on a claimed request).
            FileRequest.objects.filter(created_at__lt=now - 2 * timeout).delete()

    def serve(self, request_id):
        rows = FileRequest.objects.filter(pk=request_id)
        # Only one claim succeeds, and not after the asker withdrew the request.
        if not rows.filter(claimed_at=None).update(claimed_at=timezone.now()):
            return
        found = rows.values_list("server_id", "op", "args", "payload").first()
        if found is None:
            return
        server_id, op, args, payload = found
        try:
            result, data = l4d2_facade.file_operation(server_id, op, args, payload)
            status = 200
        except FileError as error:
            status, result, data = error.status, {"detail": error.detail}, None
        except Exception:
            log.exception("file request %s (%s) failed", request_id, op)
            status, result, data = 500, {"detail": "The game host's worker failed; see its log."}, None
        rows.update(answered_at=timezone.now(), status=status, result=result, data=data, payload=None)
        layer.publish(ANSWERED_GROUP, {"type": "files.answered", "seq": request_id})
