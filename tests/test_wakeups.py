"""Wake-ups between processes on one host without Redis (streams.wake), and the poll behind them."""

import socket
import subprocess
import sys
import threading

import pytest

from streams import wake

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
