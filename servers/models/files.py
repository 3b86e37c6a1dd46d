"""The file relay's requests: the web process asks, the worker of the server's node answers."""

from django.db import connection, models
from django.utils import timezone

from .server import Server


class FileRequestQuerySet(models.QuerySet):
    """Bytes in and out of a request's BinaryFields, bound as bytes.

    On PostgreSQL, Django's cursors bind parameters on the client side: 16 MiB of bytea
    became a 32 MiB quoted hex literal in the SQL text, and came back as hex too. These
    two send and fetch it in binary instead (bench/files.py, 16 MiB each way: ~600 ms before,
    250-400 ms after, on a busy 2-core machine).
    """

    def bytes_of(self, pk, field):
        """The bytes in `field` ("payload" or "data") of request `pk`, or None."""
        sql, params = self.filter(pk=pk).values_list(field).query.sql_with_params()
        row = _execute(sql, params, fetch=True)
        return None if row is None or row[0] is None else bytes(row[0])

    def put_bytes(self, pk, field, data):
        table = connection.ops.quote_name(FileRequest._meta.db_table)
        column = connection.ops.quote_name(field)
        _execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [data, pk])


def _execute(sql, params, fetch=False):
    """Run one statement; with `fetch`, its first row (bytea in binary format on PostgreSQL)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if fetch else None
    import psycopg  # only there

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:  # binds on the server: bytes go as bytes
        cursor.execute(sql, params, binary=fetch)
        return cursor.fetchone() if fetch else None


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

    objects = FileRequestQuerySet.as_manager()

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
