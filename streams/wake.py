"""Same-host wake-ups without Redis: UNIX datagram sockets in the data directory.

Every process that wants to be woken (a web process with live viewers, a worker) binds one
datagram socket in DATA_DIR/wake/ and reads it in a daemon thread. A publisher sends the
group's name to every listening socket ("job.12": a job was queued, a cancel asked), with the
last line written where there is one ("job.12 40"). Best effort by design: every reader also
polls the database, so a lost or refused datagram costs latency, never a line. The directory
is the data dir's (0700): only the panel's own user can send.
"""

import logging
import os
import socket
import threading
from collections import defaultdict

from django.conf import settings

log = logging.getLogger(__name__)

MAX_GROUP = 200  # bytes in a datagram: a group name ("job.12"), nothing more


def wake_dir():
    return settings.DATA_DIR / "wake"


class LocalBus:
    def __init__(self):
        self.lock = threading.Lock()
        self.handlers = defaultdict(dict)  # group -> {token: callback}
        self.sock = None
        self.path = None
        # One unbound socket for every publish of this process: publishes come with every
        # batch of lines written (sendto on a datagram socket is safe from several threads).
        self.sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sender.setblocking(False)

    # --- receiving -------------------------------------------------------------------

    def subscribe(self, group, callback):
        """Call `callback(seq)` (in the bus thread: keep it short) whenever `group` is published.

        `seq` is the last line the publisher wrote, when it says (None otherwise): a
        subscriber that already has that line need not look.
        """
        with self.lock:
            self._listen()
            token = object()
            self.handlers[group][token] = callback
        return group, token

    def unsubscribe(self, subscription):
        group, token = subscription
        with self.lock:
            self.handlers[group].pop(token, None)
            if not self.handlers[group]:
                del self.handlers[group]

    def _listen(self):
        if self.sock is not None or not settings.LOCAL_WAKEUPS:
            return
        try:
            directory = wake_dir()
            directory.mkdir(mode=0o700, exist_ok=True)
            self.path = directory / f"{os.getpid()}.sock"
            self.path.unlink(missing_ok=True)  # a dead process with our pid left it
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(str(self.path))
        except OSError as exc:
            log.warning("local wake-ups unavailable (%s): polling only", exc)
            return
        self.sock = sock
        threading.Thread(target=self._receive, name="local-wakeups", daemon=True).start()

    def _receive(self):
        while True:
            try:
                data = self.sock.recv(MAX_GROUP)
            except OSError:
                return
            group, _, seq = data.decode("utf-8", "replace").partition(" ")
            seq = int(seq) if seq.isdigit() else None
            with self.lock:
                callbacks = list(self.handlers.get(group, {}).values())
            for callback in callbacks:
                try:
                    callback(seq)
                except Exception:
                    log.exception("wake-up handler for %s failed", group)

    # --- sending ---------------------------------------------------------------------

    def publish(self, group, seq=None):
        """Wake every local listener of `group` (in any process of this host, this one included)."""
        if not settings.LOCAL_WAKEUPS:
            return
        data = (group if seq is None else f"{group} {seq}").encode()[:MAX_GROUP]
        try:
            names = os.listdir(wake_dir())
        except OSError:
            return  # nobody has ever listened
        for name in names:
            path = wake_dir() / name
            try:
                self.sender.sendto(data, str(path))
            except (ConnectionRefusedError, FileNotFoundError):
                path.unlink(missing_ok=True)  # its process is gone: nobody reads it any more
            except OSError:
                pass  # a full queue (a busy listener) or anything else: the poll covers it


bus = LocalBus()
