"""The console pump: on the game host, console.log -> ConsoleLine rows, and commands -> srcds.

A `WorkerLoop` in the node's worker. Each pass it reads what every server of the
node appended to its console.log (hostctl.console.ConsoleReader) and hands the
lines, secrets masked, to the server's `LineSink`; each line carries the byte
position after it, and the sink's `on_batch` hook stores that position in the
same transaction as the lines (ConsoleCursor). A worker killed at any moment
therefore resumes after the last stored line: nothing lost, nothing repeated.

Commands (ConsoleCommand rows) are delivered by the same loop, so a command's
line and the output it causes are numbered by the one writer of that server's
seq. Delivery is at most once: a command is marked delivered before it is
written to the console input, because running `changelevel` twice is worse than
a command lost to a crash at that instant. With Redis the web process's nudge
wakes the loop at once; without, pending commands are looked for every
COMMAND_POLL seconds. The viewers' tails are nudged after a commit when a line
ends a quiet spell or answers a command; continuous output is left to their polls
(see NUDGE_GAP).

The loop also keeps each console.log within L4D2_CONSOLE_LOG_MAX_MB on disk while srcds
runs (hostctl.logspace): only it knows how far the lines are stored, so after each
commit it lets hostctl release the file's blocks before the stored position.
"""

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from l4d2site.loops import WorkerLoop
from streams import layer
from streams.sink import LineSink

from .. import l4d2_facade
from ..live import notify_console
from ..models import (
    CommandKind,
    CommandOutcome,
    ConsoleCommand,
    ConsoleCursor,
    ConsoleLine,
    ConsoleStream,
    Server,
)
from .commands import pump_group

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0  # how often the node's server list (and their passwords) is read again
COMMAND_POLL = 0.05  # without nudges: how often pending commands are looked for
COMMAND_POLL_NUDGED = 0.1  # with nudges (Redis, local datagrams): this bounds what a lost one costs
COMMAND_EXPIRY = timedelta(seconds=30)  # older pending commands are dropped, never run late
PRUNE_SECONDS = 5.0
PRUNE_BATCH = 5000  # rows per DELETE: keeps each write lock short
SECRETS_KEPT = 3  # passwords masked per server: the current one and the last ones before it
# A nudge costs Redis round trips here and an extra poll in every tail it wakes.
# The first line after a quiet spell is nudged, then a console that keeps printing
# at most once a NUDGE_GAP: its viewers' tails poll every 0.1 s anyway, and measured
# (bench/console.py, 20 consoles x 20 lines/s) a nudge per batch brought lines no
# sooner and cost Daphne a sixth of a core more. Right after a command every batch
# is nudged: someone awaits the answer.
NUDGE_GAP = 1.0
ANSWER_SECONDS = 0.5


class Console:
    """One server's console as the pump follows it: its reader, its sink and its secrets."""

    def __init__(self, server_id, rcon_password):
        self.server_id = server_id
        self.secrets = [rcon_password]
        cursor, _ = ConsoleCursor.objects.get_or_create(server_id=server_id)
        position = l4d2_facade.Position(cursor.file_id, cursor.file_offset)
        self.reader = l4d2_facade.console_reader(server_id, position)
        table = connection.ops.quote_name(ConsoleCursor._meta.db_table)
        self.save_sql = f"UPDATE {table} SET file_id = %s, file_offset = %s WHERE server_id = %s"
        self.sink = LineSink(
            ConsoleLine,
            server_id,
            last_seq=ConsoleLine.objects.last_seq(server_id),
            on_written=self.written,
            on_batch=self.save_position,
        )
        self.pruned_to = None  # every seq up to this one is gone (None: not looked yet)
        self.nudged_at = 0.0
        self.answer_due_until = 0.0
        self.space = l4d2_facade.console_space(server_id)
        self.saving = None  # the position in the transaction being written
        self.stored = None  # the position committed with the lines before it
        self.released = None  # the stored position last handed to `space`

    def written(self, seq):
        # In the sink's writer thread, after each commit with lines of this server: what
        # `save_position` wrote in that transaction is now stored for good.
        self.stored = self.saving
        now = time.monotonic()
        if now < self.answer_due_until or now - self.nudged_at >= NUDGE_GAP:
            self.nudged_at = now
            notify_console(self.server_id, seq)

    def save_position(self, cursor, position):
        # Runs in the sink's transaction, with the lines read up to `position`.
        cursor.execute(self.save_sql, [position.file_id, position.offset, self.server_id])
        self.saving = position

    def remember(self, password):
        if password and password not in self.secrets:
            self.secrets = [password, *self.secrets][:SECRETS_KEPT]

    def pump(self):
        secrets = tuple(self.secrets)
        for row in self.reader.read():
            self.sink(row.stream, l4d2_facade.redact(row.text, secrets), row.end)
        self.release()

    def release(self):
        """Give back the disk space of what is stored (never of a line still on its way)."""
        stored = self.stored
        if stored is None or stored == self.released:
            return
        self.released = stored
        try:
            self.space.stored(stored)
        except l4d2_facade.SpaceRefused as refused:
            log.warning(
                "server %s: %s; its console.log grows until the server's next start, "
                "which rotates it to console.log.1",
                self.server_id,
                refused,
            )
        except OSError as exc:  # e.g. ENOSPC or EIO: tried again after the next commit
            log.warning("server %s: releasing console.log space failed: %s", self.server_id, exc)

    def note(self, text):
        self.sink(ConsoleStream.SYSTEM, text)


class ConsolePump(WorkerLoop):
    interval = IDLE_INTERVAL = 0.025  # seconds between looks at the console logs
    ANSWER_INTERVAL = 0.005  # ... for ANSWER_SECONDS after a command was delivered

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.consoles = {}
        self.due = {"servers": 0.0, "commands": 0.0, "prune": 0.0}
        self.nudged = threading.Event()
        # Nudges reach us over Redis, or as local datagrams from a web process on this host.
        self.nudgeable = layer.enabled() or settings.LOCAL_WAKEUPS
        self.answer_due_until = 0.0

    # --- the loop -----------------------------------------------------------------

    @property
    def wake_group(self):
        return pump_group(self.node_name)

    def on_nudge(self, seq=None):
        self.nudged.set()  # a command is waiting: look now
        self.wake()

    def close(self):
        for console in self.consoles.values():
            console.sink.flush()  # what was read is stored with its position before we go

    def run_once(self):
        now = time.monotonic()
        if now >= self.due["servers"]:
            self.refresh_servers()
            self.due["servers"] = now + REFRESH_SECONDS
        if self.nudged.is_set() or now >= self.due["commands"]:
            self.nudged.clear()
            if self.deliver_commands():
                self.answer_due_until = now + ANSWER_SECONDS
            self.due["commands"] = now + (COMMAND_POLL_NUDGED if self.nudgeable else COMMAND_POLL)
        self.interval = self.ANSWER_INTERVAL if now < self.answer_due_until else self.IDLE_INTERVAL
        for console in self.consoles.values():
            console.pump()
        if now >= self.due["prune"]:
            backlog = self.prune()
            self.due["prune"] = now + (0 if backlog else PRUNE_SECONDS)

    # --- servers ------------------------------------------------------------------

    def refresh_servers(self):
        found = dict(Server.objects.on_node(self.node_name).values_list("id", "rcon_password"))
        for server_id in set(self.consoles) - set(found):
            self.consoles.pop(server_id).sink.flush()  # deleted, or moved to another node
        for server_id, password in found.items():
            if server_id in self.consoles:
                self.consoles[server_id].remember(password)
            else:
                self.consoles[server_id] = Console(server_id, password)

    # --- commands -----------------------------------------------------------------

    def deliver_commands(self):
        """Deliver every pending command of this node's servers; True if there was any."""
        if not self.consoles:
            return False
        pending = (
            ConsoleCommand.objects.filter(outcome=CommandOutcome.PENDING, server_id__in=list(self.consoles))
            .select_related("user")
            .order_by("id")[:100]
        )
        for command in pending:
            self.deliver(command)
        return bool(pending)

    def deliver(self, command):
        console = self.consoles[command.server_id]
        who = command.user.get_username() if command.user else "the panel"
        now = timezone.now()
        unclaimed = ConsoleCommand.objects.filter(pk=command.pk, outcome=CommandOutcome.PENDING)
        if now - command.created_at > COMMAND_EXPIRY:
            if unclaimed.update(outcome=CommandOutcome.EXPIRED):
                age = (now - command.created_at).total_seconds()
                console.note(f"Dropped {who}'s command {command.text!r}: it waited {age:.0f} s for the host.")
            return
        # Only one claim succeeds, so a command is written to the console at most once.
        if not unclaimed.update(outcome=CommandOutcome.DELIVERED, delivered_at=now):
            return
        line = command.text
        if command.kind == CommandKind.RCON_PASSWORD:
            server = Server.objects.filter(pk=command.server_id)
            password = server.values_list("rcon_password", flat=True).first()
            console.remember(password)
            line = f'rcon_password "{password}"'
        shown = l4d2_facade.redact(f"{who}> {command.text}", tuple(console.secrets))
        console.answer_due_until = time.monotonic() + ANSWER_SECONDS
        console.sink(ConsoleStream.COMMAND, shown)
        if not l4d2_facade.send_console(command.server_id, line):
            ConsoleCommand.objects.filter(pk=command.pk).update(outcome=CommandOutcome.FAILED)
            console.note("Not delivered: the server's console is not open (has it stopped?).")

    # --- pruning ------------------------------------------------------------------

    def prune(self):
        """Delete each server's lines beyond L4D2_CONSOLE_KEEP_LINES, one batch per server; True if more."""
        keep = settings.L4D2_CONSOLE_KEEP_LINES
        backlog = False
        for console in self.consoles.values():
            upto = console.sink.written - keep  # the newest seq to delete
            if console.pruned_to is None:
                first = ConsoleLine.objects.filter(server_id=console.server_id).order_by("seq").first()
                console.pruned_to = first.seq - 1 if first else 0
            if upto <= console.pruned_to:
                continue
            batch_end = min(upto, console.pruned_to + PRUNE_BATCH)
            ConsoleLine.objects.filter(
                server_id=console.server_id, seq__gt=console.pruned_to, seq__lte=batch_end
            ).delete()
            console.pruned_to = batch_end
            backlog = backlog or batch_end < upto
        return backlog
