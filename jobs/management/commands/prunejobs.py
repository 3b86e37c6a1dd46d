import argparse

from django.core.management.base import BaseCommand

from jobs.management.argtypes import non_negative_int, positive_int
from jobs.prune import prune_jobs


class Command(BaseCommand):
    help = (
        "Delete finished jobs (and their log lines) older than DAYS, in small batches. "
        "Queued, running and cancelling jobs are never touched."
    )

    def add_arguments(self, parser):
        parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
        parser.add_argument(
            "--older-than",
            type=positive_int,
            required=True,
            metavar="DAYS",
            help="finished more than DAYS days ago",
        )
        parser.add_argument(
            "--keep-last",
            type=non_negative_int,
            default=0,
            metavar="N",
            help="keep each server's N newest jobs, however old",
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")

    def handle(self, *args, older_than, keep_last, dry_run, **options):
        pruned = prune_jobs(older_than, keep_last, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        kept = f", keeping each server's last {keep_last}" if keep_last else ""
        self.stdout.write(
            f"{verb} {pruned.jobs:,} jobs and {pruned.lines:,} log lines "
            f"(finished more than {older_than} days ago{kept})."
        )
