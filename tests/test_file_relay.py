"""The file relay (servers/files/relay.py) between the web process and a real worker process."""

import hashlib
import os

import pytest

from servers.files import relay
from servers.files.errors import BadPath, Conflict, HostTimeout, NotFound, TooLarge
from servers.models import FileRequest

from .files_worker import file_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def home(sim_host, server):
    path = sim_host / str(server.id)
    (path / "left4dead2" / "cfg").mkdir(parents=True)
    return path


@pytest.fixture
def worker(sim_host, tmp_path, home):
    with file_worker(sim_host, log_path=tmp_path / "worker.log") as proc:
        yield proc


@pytest.mark.slow
def test_every_operation_goes_through_the_worker_and_lands_on_disk(server, home, worker):
    data = os.urandom(3 * 1024 * 1024)
    written = relay.write_file(server, "left4dead2/motd.txt", data)
    assert (home / "left4dead2" / "motd.txt").read_bytes() == data
    assert written["sha256"] == hashlib.sha256(data).hexdigest() and written["size"] == len(data)

    content = relay.read_file(server, "left4dead2/motd.txt")
    assert content.data == data and content.sha256 == written["sha256"] and content.size == len(data)

    relay.mkdir(server, "left4dead2/backup")
    relay.rename(server, "left4dead2/motd.txt", "left4dead2/backup/motd.txt")
    listing = relay.list_dir(server, "left4dead2")
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("backup", "dir"), ("cfg", "dir")]
    assert relay.list_dir(server, "left4dead2/backup")["entries"][0]["size"] == len(data)

    relay.delete(server, ["left4dead2/backup"])
    assert not (home / "left4dead2" / "backup").exists()
    assert FileRequest.objects.count() == 0  # every answered request was deleted by its asker


@pytest.mark.slow
def test_refusals_come_back_with_their_status_and_reason(server, home, worker, settings):
    (home / "motd.txt").write_bytes(b"old")
    with pytest.raises(NotFound, match="nothing.txt does not exist"):
        relay.read_file(server, "nothing.txt")
    with pytest.raises(Conflict, match="changed on disk since it was opened"):
        relay.write_file(server, "motd.txt", b"new", expected_sha256=hashlib.sha256(b"older").hexdigest())
    assert (home / "motd.txt").read_bytes() == b"old"
    with pytest.raises(Conflict, match="Settings page"):
        relay.write_file(server, "left4dead2/cfg/server.cfg", b"sv_cheats 1")
    os.symlink("/etc", home / "etc")
    with pytest.raises(BadPath, match="outside the server's folder") as refused:
        relay.list_dir(server, "etc")
    assert refused.value.status == 400
    (home / "big.bin").write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    settings.L4D2_FILE_MAX_MB = 2  # the web side's limit; the worker's own is checked in its tests
    with pytest.raises(TooLarge):
        relay.write_file(server, "big2.bin", b"x" * (2 * 1024 * 1024 + 1))
    assert not (home / "big2.bin").exists()


def test_plainly_bad_paths_are_refused_without_asking_the_host(server):
    for path in ("../other", "/etc/passwd", "a/\0b", "a/../../b"):
        with pytest.raises(BadPath):
            relay.read_file(server, path)
    assert FileRequest.objects.count() == 0


def test_without_a_worker_for_the_host_the_answer_is_504_at_once(server):
    with pytest.raises(HostTimeout, match="No worker is running") as refused:
        relay.list_dir(server, "")
    assert refused.value.status == 504


def test_a_request_nobody_claims_is_withdrawn_at_the_timeout_and_never_runs(server, settings):
    from jobs.models import WorkerProcess

    WorkerProcess.heartbeat("elsewhere:1:1", None)  # alive on paper, but it runs no relay
    settings.L4D2_FILE_TIMEOUT_SECONDS = 0.3
    with pytest.raises(HostTimeout, match="did not answer: nothing was changed"):
        relay.mkdir(server, "new")
    assert FileRequest.objects.count() == 0
