"""Commands typed into a server's console: checked, rate-limited and stored for the host's worker.

The web process never touches the game host: it stores a `ConsoleCommand` and
nudges the worker of the server's node, whose console pump delivers it.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

# Pure checks, no side effects: srcds's reading of a line and the commands it must not
# run live once, in hostctl, shared with the server.cfg rules.
import activity
from hostctl import cmdline, unsafe
from streams import layer

from ..l4d2_facade import MASK
from ..models import ActualState, CommandKind, ConsoleCommand, Server

MAX_BYTES = 512
PER_SECOND = 5  # commands a user may send per second, over all servers and web processes


class Refused(Exception):
    """A command the panel will not send; `status` is the HTTP status that says why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def pump_group(node_name):
    """The channel-layer group the console pump of a node listens to."""
    return f"console.node.{node_name}" if node_name else "console.panel"


def check_text(text):
    """The command line to send, or Refused(400) saying what is wrong with it."""
    if not isinstance(text, str):
        raise Refused(400, "Send the command as text.")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
        raise Refused(400, "A command is one line, without control characters (line breaks, NUL, tabs).")
    text = text.strip()
    if not text:
        raise Refused(400, "Type a command.")
    size = len(text.encode())
    if size > MAX_BYTES:
        raise Refused(400, f"A command is at most {MAX_BYTES} bytes; this one is {size}.")
    if "rcon_password" in text.lower():
        raise Refused(400, "The RCON password is changed with Rotate on the server page, never typed here.")
    # Every command srcds would run for this line, read as srcds reads it (quotes, case,
    # `;` chains), so `"quit"` or `say hi; QUIT` is seen as the quit it is.
    for argv in cmdline.every_reading(text):
        if refused := unsafe.refusal(argv):
            name, reason = refused
            if name in unsafe.STOPS:
                # The supervisor would take it for a crash; the buttons stop it properly.
                raise Refused(400, f"Use the Stop and Restart buttons of the server page instead of {name}.")
            raise Refused(400, f"{name} is refused: {reason}.")
    return text


def submit(server, user, text, *, request=None, via="web", detail=None):
    """Store `text` for delivery to `server`'s console; Refused(400/409/429) if it cannot go.

    `user` None: the panel itself sends it (a schedule: `via`), with no rate limit. Each
    command stored is a `console.command` event with the text (`detail` added).
    """
    text = check_text(text)
    if server.rcon_password and server.rcon_password in text:
        # Stored commands and console lines never hold it (and the error never repeats it).
        raise Refused(400, "That is the server's RCON password: it is never sent through the console.")
    return _store(server, user, CommandKind.LINE, text, request=request, via=via, detail=detail)


def submit_rcon_password(server, user, *, request=None):
    """Send the server's current RCON password to its console; the stored text is masked."""
    return _store(server, user, CommandKind.RCON_PASSWORD, f"rcon_password {MASK}", request=request)


def _store(server, user, kind, text, *, request=None, via="web", detail=None):
    state = Server.objects.filter(pk=server.pk).values_list("actual_state", flat=True).first()
    if state != ActualState.RUNNING:
        label = ActualState(state).label.lower() if state in ActualState.values else "gone"
        raise Refused(409, f"The server is {label}: commands can only be sent while it is running.")
    limit = PER_SECOND
    with transaction.atomic():
        if user is not None:
            # One user at a time counts and adds, so the limit holds across web processes
            # (SQLite's IMMEDIATE transactions serialise this by themselves).
            get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
            since = timezone.now() - timedelta(seconds=1)
            if ConsoleCommand.objects.filter(user=user, created_at__gt=since).count() >= limit:
                raise Refused(429, f"Slow down: at most {limit} commands a second.")
        command = ConsoleCommand.objects.create(server=server, user=user, kind=kind, text=text)
        # The text as stored: an RCON password in it was refused or masked above.
        detail = {"command": command.text, **(detail or {})}
        activity.record("console.command", actor=user, via=via, server=server, request=request, detail=detail)
    layer.publish(pump_group(server.node.name if server.node_id else None), {"type": "console.command"})
    return command
