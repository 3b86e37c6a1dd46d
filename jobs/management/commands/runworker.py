import argparse

from django.core.management.base import BaseCommand

from jobs.management.argtypes import positive_float, positive_int
from jobs.worker import Worker


class Command(BaseCommand):
    help = "Run queued lifecycle jobs (install, update, start, stop, restart) and record their output."

    def add_arguments(self, parser):
        parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
        parser.add_argument(
            "--concurrency", type=positive_int, default=2, help="jobs run in parallel (different servers)"
        )
        parser.add_argument("--poll", type=positive_float, default=1.0, help="seconds between queue polls")
        parser.add_argument("--once", action="store_true", help="drain the queue, then exit")
        parser.add_argument(
            "--drain-timeout",
            type=positive_float,
            default=60.0,
            help="on SIGTERM/SIGINT, seconds to let running jobs finish before cancelling them",
        )
        parser.add_argument(
            "--node",
            default=None,
            help="game host name: run only jobs of this node's servers and heartbeat for it "
            "(default: the servers without a node)",
        )

    def handle(self, *args, **options):
        Worker(
            concurrency=options["concurrency"],
            poll=options["poll"],
            once=options["once"],
            drain_timeout=options["drain_timeout"],
            node=options["node"],
            subreaper=not options["once"],
        ).run()
