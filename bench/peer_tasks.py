"""What bench/peers.py runs on Celery and RQ: one function that runs the hostile tree.

Imported by the Celery worker (`celery -A peer_tasks worker`), by the RQ worker
(job `peer_tasks.run_tree`) and by peers.py itself, with bench/ on sys.path and
BENCH_PEERS_REDIS_URL set by peers.py (a Redis db of its own).
"""

import os
import subprocess
from pathlib import Path

from celery import Celery

TREE = str(Path(__file__).resolve().parent / "hostile_tree.py")
QUEUE = "bench-peers"
REDIS_URL = os.environ.get("BENCH_PEERS_REDIS_URL", "redis://127.0.0.1:6379/6")

app = Celery("peer_tasks", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


def run_tree():
    # What a typical task does with an external command: run it and wait for it.
    subprocess.run([TREE], check=True)


celery_run_tree = app.task(run_tree, name="peer_tasks.run_tree")
