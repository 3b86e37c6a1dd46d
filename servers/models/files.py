"""The file relay's requests: the web process asks, the worker of the server's node answers."""

from django.db import connection, models
from django.utils import timezone

from .server import Server


class FileRequest(models.Model):
    """One file operation on a server's game host, and its answer (servers/files/relay.py).

    The web process inserts it (with its FileBytes to write, if any) and waits; the worker
    of the server's node claims it, runs it through hostctl.files and writes the answer
    into this row (and the bytes read into a FileBytes); the web process reads the answer
    and deletes the row, its bytes with it.
    """

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="+")
    op = models.CharField(max_length=8)
    args = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, help_text="200, or the HTTP status of the refusal.")
    result = models.JSONField(null=True, help_text="The answer, or {'detail': why} with an error status.")

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


class FileBytesQuerySet(models.QuerySet):
    """Bytes in and out as bytes.

    On PostgreSQL, Django's cursors bind parameters on the client side: 16 MiB of bytea
    became a 32 MiB quoted hex literal in the SQL text, and came back as hex too. These
    send and fetch it in binary instead (bench/files.py, 16 MiB each way: ~600 ms before,
    250-400 ms after, on a busy 2-core machine).
    """

    def put(self, request_id, answer, data):
        table = connection.ops.quote_name(FileBytes._meta.db_table)
        sql = f"INSERT INTO {table} (request_id, answer, data) VALUES (%s, %s, %s)"
        _execute(sql, [request_id, answer, data])

    def of(self, request_id, answer):
        """The bytes of request `request_id` (the answer's, or the payload's), or None."""
        rows = self.filter(request_id=request_id, answer=answer).values_list("data")
        sql, params = rows.query.sql_with_params()
        row = _execute(sql, params, fetch=True)
        return None if row is None else bytes(row[0])


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


class FileBytes(models.Model):
    """The bytes of a FileRequest: the file to write (the web process's) or the file read (the worker's).

    A row of their own, written once and never updated: on SQLite every UPDATE of a row
    rewrites all of it, and claiming and answering a request whose row held 16 MiB cost
    ~140 ms each (bench/files.py). Bytes stay bytes (a BLOB, a bytea): no base64, no chunks.
    """

    request = models.ForeignKey(FileRequest, on_delete=models.CASCADE, related_name="+")
    answer = models.BooleanField(help_text="False: the bytes to write; True: the bytes read.")
    data = models.BinaryField()

    objects = FileBytesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "file bytes"
        constraints = [models.UniqueConstraint(fields=["request", "answer"], name="filebytes_one_each_way")]

    def __str__(self):
        return f"{self.request_id} {'answer' if self.answer else 'payload'}"
