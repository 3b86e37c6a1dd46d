"""Duties the worker process runs beside its job loop (supervisor, console, scheduler, webhooks).

`runworker` starts one thread per class named in settings.WORKER_LOOPS, each with
the worker's identity and node, and stops them when it stops. A loop does one
pass of its work in `run_once` every `interval` seconds, or at once when woken;
a database error in a pass is logged and the pass retried next time, never fatal.
"""

import logging
import threading

from django.db import DatabaseError, close_old_connections, connection

from streams import layer

log = logging.getLogger(__name__)


class WorkerLoop:
    interval = 5.0
    # A channel group whose messages wake the loop at once (local datagrams, and Redis
    # where configured); None: the loop only runs every `interval`.
    wake_group = None

    def __init__(self, *, identity, node_name):
        self.identity = identity  # "host:pid:start-time" of the worker process
        self.node_name = node_name  # None: the servers without a node (the panel's own host)
        self.woken = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def run_once(self):
        """One pass of the loop's work."""

    def close(self):
        """Called once in the loop's thread after the last pass."""

    def start(self):
        self.subscription = layer.Subscription(self.wake_group, self.on_nudge) if self.wake_group else None
        self.thread.start()

    def on_nudge(self, seq=None):
        """Something was published to `wake_group`."""
        self.wake()

    def wake(self):
        self.woken.set()

    def stop(self, timeout=10):
        if self.subscription:
            self.subscription.close()
        self.stopping.set()
        self.woken.set()
        self.thread.join(timeout)

    def _run(self):
        try:
            while not self.stopping.is_set():
                try:
                    close_old_connections()
                    self.run_once()
                except DatabaseError as exc:
                    log.warning("%s: database error, retrying: %s", type(self).__name__, exc)
                    connection.close()
                except Exception:
                    log.exception("%s: pass failed", type(self).__name__)
                # A pass is a task like a request: on PostgreSQL its connection goes back to
                # the pool now, not after the sleep, so idle loops hold none.
                close_old_connections()
                self.woken.wait(self.interval)
                self.woken.clear()
            self.close()
        finally:
            connection.close()
