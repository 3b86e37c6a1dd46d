"""The lines a job printed, numbered 1, 2, 3... per job (DESIGN.md §2), as a streams.numbered.NumberedLine."""

from django.db import models

from streams.numbered import NumberedLine

from .choices import LogStream


class JobLog(NumberedLine):
    """One line of a job's output; seq 1, 2, 3... per job, no gaps."""

    owner_field = "job"
    job = models.ForeignKey("jobs.Job", on_delete=models.CASCADE, related_name="logs", db_index=False)
    seq = models.PositiveIntegerField()
    stream = models.CharField(max_length=6, choices=LogStream.choices)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [
            # Doubles as the (job, seq) index every log read and tail uses.
            models.UniqueConstraint(fields=["job", "seq"], name="joblog_job_seq"),
        ]
