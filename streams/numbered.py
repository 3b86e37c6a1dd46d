"""The abstract model of a numbered line (a job log line, a console line) and its reads.

`sink.LineSink` writes such rows, `source.LineSource` reads them. A concrete model adds its
owner's foreign key (named by `owner_field`), `seq` and `stream`, and a unique (owner, seq)
constraint: the index every read here uses. (streams is no app: abstract models only.)
"""

from django.db import models
from django.utils import timezone


class NumberedLineQuerySet(models.QuerySet):
    def of(self, owner_id):
        return self.filter(**{f"{self.model.owner_field}_id": owner_id})

    def last_seq(self, owner_id):
        """The highest seq stored for the owner (0 for none)."""
        return self.of(owner_id).order_by("-seq").values_list("seq", flat=True).first() or 0

    def rows_after(self, owner_id, after, limit):
        """Up to `limit` rows with seq > after, in seq order, as `tail.Source.read_lines` returns them."""
        rows = (
            self.of(owner_id)
            .filter(seq__gt=after)
            .order_by("seq")
            .values_list("seq", "stream", "line", "created_at")[:limit]
        )
        return [{"seq": s, "stream": st, "line": line, "at": at.isoformat()} for s, st, line, at in rows]


class NumberedLine(models.Model):
    owner_field = ""  # the foreign key to what the lines belong to

    line = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = NumberedLineQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self):
        owner = getattr(self, f"{self.owner_field}_id")
        return f"{owner}:{self.seq} [{self.stream}] {self.line[:80]}"
