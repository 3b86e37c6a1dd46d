"""A server's console: the lines srcds printed, the pump's read position, the commands sent."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from streams.numbered import NumberedLine

from .server import Server


class ConsoleStream(models.TextChoices):
    STDOUT = "stdout", "Output"
    "What srcds printed (stdout and stderr, as one stream, like a terminal shows them)."
    COMMAND = "command", "Command"
    "A command someone sent from the panel, written as it was delivered, with who sent it."
    SYSTEM = "system", "Panel"
    "A note from the panel: the server started, a command could not be delivered."


class ConsoleLine(NumberedLine):
    """One line of a server's console; seq 1, 2, 3... per server, no gaps (old ones pruned)."""

    owner_field = "server"
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_lines", db_index=False)
    seq = models.PositiveBigIntegerField()
    stream = models.CharField(max_length=7, choices=ConsoleStream.choices)

    class Meta:
        ordering = ["server", "seq"]
        constraints = [
            # Doubles as the (server, seq) index every console read, tail and prune uses.
            models.UniqueConstraint(fields=["server", "seq"], name="consoleline_server_seq"),
        ]


class ConsoleCursor(models.Model):
    """How far the console pump has read a server's console.log.

    Written in the same transaction as the lines it read up to, so a worker that
    dies resumes exactly after the last stored line.
    """

    server = models.OneToOneField(Server, on_delete=models.CASCADE, primary_key=True, related_name="+")
    file_id = models.CharField(max_length=64, blank=True, help_text="device:inode of the file being read")
    file_offset = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.server_id}: {self.file_id} @ {self.file_offset}"


class CommandKind(models.TextChoices):
    LINE = "line", "Console line"
    "A line typed into the console, sent as it is."
    RCON_PASSWORD = "rcon_password", "RCON password change"
    "Sets the server's current RCON password; the worker reads it from the server when it delivers it."


class CommandOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    "Waiting for the worker on the server's host."
    DELIVERED = "delivered", "Delivered"
    "Written to the server's console input."
    FAILED = "failed", "Not delivered"
    "The server's console was not open (the server had stopped)."
    EXPIRED = "expired", "Expired"
    "Still waiting after CONSOLE_COMMAND_EXPIRY (the host's worker was away): dropped, never run late."


class ConsoleCommand(models.Model):
    """A command sent to a server's console, and who sent it (the audit trail)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_commands")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=CommandKind.choices, default=CommandKind.LINE)
    text = models.CharField(max_length=512, help_text="As typed; an RCON password change is stored masked.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=9, choices=CommandOutcome.choices, default=CommandOutcome.PENDING)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="consolecommand_user_time"),
            models.Index(
                fields=["server"],
                name="consolecommand_pending",
                condition=models.Q(outcome="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.server_id}: {self.text[:80]}"
