"""The lines a job printed, numbered 1, 2, 3... per job (DESIGN.md §2)."""

from django.db import models
from django.utils import timezone

from .choices import LogStream


class JobLogQuerySet(models.QuerySet):
    def last_seq(self, job_id):
        return self.filter(job_id=job_id).order_by("-seq").values_list("seq", flat=True).first() or 0


class JobLog(models.Model):
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="logs", db_index=False)
    seq = models.PositiveIntegerField()
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    line = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = JobLogQuerySet.as_manager()

    class Meta:
        ordering = ["job", "seq"]
        constraints = [
            # Doubles as the (job, seq) index every log read and tail uses.
            models.UniqueConstraint(fields=["job", "seq"], name="joblog_job_seq"),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.seq} [{self.stream}] {self.line[:80]}"
