"""Wake-ups between processes on one host without Redis (streams.wake), and the poll behind them."""

import asyncio
import socket
import subprocess
import sys
import threading

import pytest

from streams import layer, wake

from .processes import ROOT, process_env
from .test_job_logs import a_viewer_gets_both_lines_of_a_running_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_publish_from_another_process_wakes_a_subscriber_here_with_the_last_seq_written():
    woken, seqs = threading.Event(), []

    def nudged(seq):
        seqs.append(seq)
        woken.set()

    subscription = wake.bus.subscribe("job.4242", nudged)
    try:
        publisher = (
            "import django; django.setup(); from streams import wake; wake.bus.publish('job.4242', 17)"
        )
        env = process_env(DJANGO_SETTINGS_MODULE="tests.settings")
        subprocess.run([sys.executable, "-c", publisher], cwd=ROOT, env=env, check=True, timeout=30)
        assert woken.wait(10)
        assert seqs == [17]
    finally:
        wake.bus.unsubscribe(subscription)


def test_a_socket_left_by_a_dead_process_is_removed_by_the_next_publish():
    wake.bus.subscribe("job.1", lambda seq: None)  # makes sure the directory exists
    stale = wake.wake_dir() / "999999999.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(stale))  # bound, then closed: nobody will ever read it
    wake.bus.publish("job.1")
    assert not stale.exists()


async def test_with_local_wakeups_off_the_poll_still_delivers_every_line(owner, job, settings):
    settings.LOCAL_WAKEUPS = False
    await a_viewer_gets_both_lines_of_a_running_job(owner, job)


class CancelSwallowingLayer:
    """A channel layer whose read turns a cancel into a TimeoutError, as redis-py can mid-read."""

    async def new_channel(self):
        return "channel"

    async def group_add(self, group, channel):
        pass

    async def group_discard(self, group, channel):
        pass

    async def close_pools(self):
        pass

    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise TimeoutError from None


async def test_a_redis_listener_cancelled_without_close_ends_even_when_the_cancel_became_a_timeout(
    monkeypatch,
):
    monkeypatch.setattr(layer, "enabled", lambda: True)
    monkeypatch.setattr(layer, "new_layer", CancelSwallowingLayer)
    subscription = layer.Subscription("test-group", lambda seq: None, asyncio.get_running_loop())
    await asyncio.sleep(0.05)  # the listener is reading
    subscription.task.cancel()  # a loop's teardown cancels every task; nobody called close()
    done, _ = await asyncio.wait([subscription.task], timeout=3)
    wake.bus.unsubscribe(subscription.local)
    assert done and subscription.task.cancelled()
