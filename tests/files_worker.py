"""A real runworker serving the file relay, for the file manager's tests and bench/files.py."""

from contextlib import contextmanager

from jobs.models import WorkerProcess

from .processes import running, start_worker, stop_gracefully, wait_until


@contextmanager
def file_worker(root, log_path=None, **env):
    """A worker for the servers without a node, with HOSTCTL_ROOT `root`; yields once it is up
    (its heartbeat row is what the relay asks before it sends anything)."""
    env.setdefault("L4D2_NODE_HEARTBEAT_SECONDS", "0.5")
    with running(start_worker("--poll", "0.5", log_path=log_path, HOSTCTL_ROOT=root, **env)) as worker:
        wait_until(lambda: WorkerProcess.objects.exists() or worker.poll() is not None, timeout=30)
        assert worker.poll() is None, "the worker exited"
        yield worker
        stop_gracefully(worker)
