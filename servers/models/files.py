"""The file relay's requests: the web process asks, the worker of the server's node answers."""

from django.db import models
from django.utils import timezone

from .server import Server


class FileRequest(models.Model):
    """One file operation on a server's game host, and its answer (servers/files/relay.py).

    The web process inserts it (with the bytes to write, if any) and waits; the worker
    of the server's node claims it, runs it through hostctl.files and writes the answer
    into the same row; the web process reads the answer and deletes the row. Bytes stay
    bytes in both directions (a BinaryField: bytea, a BLOB), one row each way.
    """

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="+")
    op = models.CharField(max_length=8)
    args = models.JSONField(default=dict)
    payload = models.BinaryField(null=True, help_text="The bytes to write (op write).")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, help_text="200, or the HTTP status of the refusal.")
    result = models.JSONField(null=True, help_text="The answer, or {'detail': why} with an error status.")
    data = models.BinaryField(null=True, help_text="The bytes read (op read).")

    class Meta:
        indexes = [
            # What a worker looks for on every pass: small, since answered rows go at once.
            models.Index(
                fields=["created_at"], name="filerequest_unclaimed", condition=models.Q(claimed_at=None)
            ),
            models.Index(fields=["created_at"], name="filerequest_created"),
        ]

    def __str__(self):
        return f"{self.server_id}: {self.op} {self.args}"
