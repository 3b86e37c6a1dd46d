"""Backups and restores (DESIGN.md §13) with the real worker: byte-for-byte round trips, truncate,
single-file restores, a cancelled restore, retention and locks, and the S3 store against a real
S3-compatible server process (moto in server mode)."""

import hashlib
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from activity.models import Event
from automation import actions
from automation.models import Schedule, ScheduleAction
from backups.models import Backup, BackupState
from backups.store import DirectoryStore
from hostctl import archive
from hostctl.process import CancelToken
from jobs.models import Job, JobState
from l4d2site.job_states import FINISHED_STATES as FINISHED

from .processes import free_port, wait_for_port

pytestmark = pytest.mark.django_db(transaction=True)


def stored_backup(server, data=b"not really a tar"):
    """A ready backup whose archive (any bytes) is in the directory store: for the access matrices."""
    from django.conf import settings

    backup = Backup.objects.create(
        server=server,
        name="stored",
        state=BackupState.READY,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    with DirectoryStore(settings.L4D2_BACKUP_DIR).writer(backup.key) as out:
        out.write(data)
    return backup


FILES = {
    "left4dead2/cfg/autoexec.cfg": b"sv_cheats 0\n",
    "left4dead2/motd.txt": b"Welcome to the server\n",
    "left4dead2/addons/sourcemod/configs/admins_simple.ini": b'"STEAM_1:0:1" "99:z"\n',
    "left4dead2/addons/sourcemod/data/big.bin": os.urandom(3 * archive.CHUNK),
    "left4dead2/pak01_dir.vpk": b"game file: Install brings it back",
}


def snapshot(root):
    return {
        p.relative_to(root).as_posix(): ("dir" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def store(settings, tmp_path):
    settings.L4D2_BACKUP_DIR = tmp_path / "store"
    settings.L4D2_BACKUP_S3_BUCKET = ""
    return settings.L4D2_BACKUP_DIR


@pytest.fixture
def files(sim_host, server, store):
    root = sim_host / str(server.id)
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def run_jobs():
    call_command("runworker", once=True, poll=0.05)


def back_up(client, server):
    answer = client.post(f"/api/v1/servers/{server.id}/backups", content_type="application/json")
    assert answer.status_code == 202, answer.content
    run_jobs()
    backup = Backup.objects.get(pk=answer.json()["backup"]["id"])
    assert Job.objects.get(pk=answer.json()["job"]["id"]).state == JobState.SUCCEEDED
    return backup


def restore(client, backup, **body):
    answer = client.post(f"/api/v1/backups/{backup.id}/restore", body, content_type="application/json")
    assert answer.status_code == 202, answer.content
    run_jobs()
    return Job.objects.get(pk=answer.json()["job"]["id"])


def test_back_up_change_and_delete_files_then_restore_gives_back_every_byte(
    owner_client, server, files, store
):
    before = snapshot(files)
    backup = back_up(owner_client, server)
    archive_bytes = (store / backup.key).read_bytes()
    assert backup.state == BackupState.READY and backup.size == len(archive_bytes)
    assert backup.sha256 == hashlib.sha256(archive_bytes).hexdigest()
    assert "left4dead2/pak01_dir.vpk" not in {path for path, _, _ in backup.members()}  # the game's own
    assert Backup.objects.get(pk=backup.pk).job.progress == 100

    (files / "left4dead2/motd.txt").write_bytes(b"defaced")
    (files / "left4dead2/cfg/autoexec.cfg").unlink()
    (files / "left4dead2/addons/sourcemod/data/big.bin").write_bytes(b"truncated")
    (files / "left4dead2/cfg/new.cfg").write_bytes(b"added after the backup")
    assert restore(owner_client, backup).state == JobState.SUCCEEDED
    assert snapshot(files) == {**before, "left4dead2/cfg/new.cfg": b"added after the backup"}

    job = restore(owner_client, backup, truncate=True)
    assert job.state == JobState.SUCCEEDED and snapshot(files) == before  # the game file stays: not in scope
    assert not any(p.name.startswith(f".{server.id}.") for p in files.parent.iterdir())
    assert set(Event.objects.filter(action__startswith="backup.").values_list("action", flat=True)) == {
        "backup.created",
        "backup.restored",
    }


def test_the_contents_page_lists_a_folder_from_the_index_and_restores_one_file(owner_client, server, files):
    backup = back_up(owner_client, server)
    page = owner_client.get(f"/servers/{server.id}/backups/{backup.id}?path=left4dead2/cfg").content.decode()
    assert "autoexec.cfg" in page and "motd.txt" not in page
    (files / "left4dead2/cfg/autoexec.cfg").write_bytes(b"changed")
    (files / "left4dead2/motd.txt").write_bytes(b"changed too")
    answer = owner_client.post(
        f"/servers/{server.id}/backups/{backup.id}/restore", {"paths": ["left4dead2/cfg/autoexec.cfg"]}
    )
    assert answer.status_code == 302
    run_jobs()
    assert (files / "left4dead2/cfg/autoexec.cfg").read_bytes() == FILES["left4dead2/cfg/autoexec.cfg"]
    assert (files / "left4dead2/motd.txt").read_bytes() == b"changed too"


def test_a_restore_names_only_paths_in_the_backup(owner_client, server, files):
    backup = back_up(owner_client, server)
    answer = owner_client.post(
        f"/api/v1/backups/{backup.id}/restore", {"paths": ["../etc/passwd"]}, content_type="application/json"
    )
    assert answer.status_code == 400 and "is not in backup" in answer.json()["detail"]
    assert not Job.objects.filter(kind="restore").exists()


def test_a_restore_cancelled_mid_way_leaves_the_files_untouched(
    owner_client, owner, server, files, monkeypatch
):
    backup = back_up(owner_client, server)
    (files / "left4dead2/motd.txt").write_bytes(b"keep me")
    (files / "left4dead2/addons/sourcemod/data/big.bin").unlink()
    before = snapshot(files)

    # The worker's cancel raises its job's token; the unpacking waits for it after its first read,
    # so the cancel lands mid-way whatever the machine's speed.
    token_raised, reading = threading.Event(), threading.Event()
    real_cancel, real_add = CancelToken.cancel, archive._Progress.add
    monkeypatch.setattr(CancelToken, "cancel", lambda self: (real_cancel(self), token_raised.set()))

    def add_then_wait(self, count):
        real_add(self, count)
        reading.set()
        token_raised.wait(30)

    monkeypatch.setattr(archive._Progress, "add", add_then_wait)
    job = owner_client.post(
        f"/api/v1/backups/{backup.id}/restore", {}, content_type="application/json"
    ).json()["job"]

    def cancel_once_reading():
        assert reading.wait(30)
        Job.objects.get(pk=job["id"]).request_cancel(owner)

    canceller = threading.Thread(target=cancel_once_reading)
    canceller.start()
    run_jobs()
    canceller.join()
    assert Job.objects.get(pk=job["id"]).state == JobState.CANCELLED
    assert snapshot(files) == before
    assert not any(p.name.startswith(f".{server.id}.") for p in files.parent.iterdir())


def test_a_manual_backup_at_the_limit_is_refused_and_a_locked_one_cannot_be_deleted(
    owner_client, server, files
):
    server.backup_limit = 1
    server.save()
    backup = back_up(owner_client, server)
    answer = owner_client.post(f"/api/v1/servers/{server.id}/backups", content_type="application/json")
    assert answer.status_code == 409 and "keeps at most 1" in answer.json()["detail"]
    assert owner_client.post(f"/servers/{server.id}/backups").status_code == 409
    assert owner_client.post(f"/api/v1/backups/{backup.id}/lock").json()["locked"] is True
    answer = owner_client.delete(f"/api/v1/backups/{backup.id}")
    assert answer.status_code == 409 and "locked" in answer.json()["detail"]
    assert owner_client.post(f"/servers/{server.id}/backups/{backup.id}/delete").status_code == 409
    owner_client.post(f"/api/v1/backups/{backup.id}/unlock")
    assert owner_client.delete(f"/api/v1/backups/{backup.id}").status_code == 204
    assert not Backup.objects.exists() and not any((Path(files.parent.parent) / "store").rglob("*.zst"))


def test_a_scheduled_backup_at_the_limit_deletes_the_oldest_unlocked_one(owner_client, server, files, store):
    server.backup_limit = 2
    server.save()
    oldest_locked = back_up(owner_client, server)
    owner_client.post(f"/api/v1/backups/{oldest_locked.id}/lock")
    older = back_up(owner_client, server)
    schedule = Schedule.objects.create(
        server=server, cron="0 5 * * *", timezone="UTC", action=ScheduleAction.BACKUP
    )
    job, said = actions.run(schedule)
    assert said == f"Queued as job #{job.id}."
    run_jobs()
    newer = Backup.objects.get(job=job)
    assert set(Backup.objects.values_list("pk", flat=True)) == {oldest_locked.pk, newer.pk}
    assert not (store / older.key).exists() and (store / newer.key).exists()
    assert Event.objects.filter(action="backup.deleted", via="schedule", detail__backup=older.pk).exists()


def test_a_backup_kind_cannot_be_queued_as_a_plain_job(owner_client, server):
    answer = owner_client.post(
        f"/api/v1/servers/{server.id}/jobs", {"kind": "backup"}, content_type="application/json"
    )
    # Only the lifecycle kinds are plain jobs; a backup needs its row (the Backups page, its API).
    assert answer.status_code == 400 and "install" in answer.json()["detail"]
    assert not Job.objects.exists()


def test_the_directory_store_download_streams_the_archive_and_is_recorded(owner_client, server, files, store):
    backup = back_up(owner_client, server)
    answer = owner_client.get(f"/api/v1/backups/{backup.id}/download")
    body = b"".join(answer.streaming_content)
    assert answer.status_code == 200 and hashlib.sha256(body).hexdigest() == backup.sha256
    assert f'filename="{backup.name}.tar.zst"' in answer["Content-Disposition"]
    assert Event.objects.filter(action="backup.downloaded").count() == 1
    (store / backup.key).unlink()  # lost from the store behind the panel's back
    answer = owner_client.get(f"/api/v1/backups/{backup.id}/download")
    assert answer.status_code == 404 and "missing from the backup store" in answer.json()["detail"]
    listed = owner_client.get(f"/api/v1/servers/{server.id}/backups").json()["items"]
    assert [(b["id"], b["sha256"], b["size"], b["state"]) for b in listed] == [
        (backup.id, backup.sha256, backup.size, "ready")
    ]


# --- S3 -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto in server mode: a real S3-compatible HTTP server process on a free port."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    try:
        wait_for_port(port, proc, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def s3(settings, s3_server):
    import boto3

    settings.L4D2_BACKUP_S3_BUCKET = "l4d2-backups"
    settings.L4D2_BACKUP_S3_ENDPOINT_URL = s3_server
    settings.L4D2_BACKUP_S3_ACCESS_KEY = "test"
    settings.L4D2_BACKUP_S3_SECRET_KEY = "test"
    settings.L4D2_BACKUP_S3_REGION = "us-east-1"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="l4d2-backups")
    yield client
    for item in client.list_objects_v2(Bucket="l4d2-backups").get("Contents", []):
        client.delete_object(Bucket="l4d2-backups", Key=item["Key"])
    client.delete_bucket(Bucket="l4d2-backups")


@pytest.mark.slow
def test_the_s3_store_keeps_the_archive_downloads_by_signed_url_and_restores(
    owner_client, server, files, s3, store
):
    before = snapshot(files)
    backup = back_up(owner_client, server)
    stored = s3.get_object(Bucket="l4d2-backups", Key=backup.key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == backup.sha256 and not any(store.rglob("*.zst"))

    answer = owner_client.get(f"/servers/{server.id}/backups/{backup.id}/download")
    assert answer.status_code == 302 and "Signature=" in answer["Location"]
    with urllib.request.urlopen(answer["Location"]) as signed:
        assert hashlib.sha256(signed.read()).hexdigest() == backup.sha256

    (files / "left4dead2/motd.txt").unlink()
    assert restore(owner_client, backup).state == JobState.SUCCEEDED
    assert snapshot(files) == before
    assert owner_client.delete(f"/api/v1/backups/{backup.id}").status_code == 204
    assert "Contents" not in s3.list_objects_v2(Bucket="l4d2-backups")


@pytest.mark.slow
def test_restoring_a_running_server_stops_it_swaps_the_files_and_starts_it_again(
    owner_client, udp_server, sim_host, store
):
    from jobs.models import JobLog

    from . import simservers

    simservers.start(udp_server)
    try:
        motd = sim_host / str(udp_server.id) / "left4dead2" / "motd.txt"
        motd.write_bytes(b"as backed up")
        backup = back_up(owner_client, udp_server)
        motd.write_bytes(b"changed while running")
        job = restore(owner_client, backup)
        phases = list(JobLog.objects.filter(job=job, stream="phase").values_list("line", flat=True))
        assert job.state == JobState.SUCCEEDED and phases == ["Unpack", "Stop", "Swap", "Start"]
        assert motd.read_bytes() == b"as backed up"
        udp_server.refresh_from_db()
        assert udp_server.actual_state == "running"
    finally:
        simservers.stop(udp_server)


def test_the_backups_page_lists_backups_in_a_fixed_number_of_queries(
    owner_client, server, store, django_assert_max_num_queries
):
    for _ in range(20):
        stored_backup(server)
    with django_assert_max_num_queries(12):
        page = owner_client.get(f"/servers/{server.id}/backups").content.decode()
    assert page.count('class="button small" href="/servers/') == 20 and "Back up now" in page


def test_the_owner_sets_the_limit_and_patterns_on_the_page_and_the_next_backup_leaves_them_out(
    owner_client, server, files
):
    answer = owner_client.post(
        f"/servers/{server.id}/backups/settings", {"backup_limit": "3", "backup_ignore": "*.ini\n"}
    )
    assert answer.status_code == 302
    server.refresh_from_db()
    assert (server.backup_limit, server.backup_ignore) == (3, "*.ini")
    assert Event.objects.filter(action="backup.settings").exists()
    answer = owner_client.post(f"/servers/{server.id}/backups")
    assert answer.status_code == 302 and answer["Location"].startswith("/jobs/")
    run_jobs()
    paths = {path for path, _, _ in Backup.objects.get().members()}
    assert (
        "left4dead2/motd.txt" in paths
        and "left4dead2/addons/sourcemod/configs/admins_simple.ini" not in paths
    )
    bad = owner_client.post(
        f"/servers/{server.id}/backups/settings", {"backup_limit": "0", "backup_ignore": ""}
    )
    assert bad.status_code == 400
    bad = owner_client.post(
        f"/servers/{server.id}/backups/settings", {"backup_limit": "3", "backup_ignore": "ok\n/[z-a]"}
    )
    assert bad.status_code == 400 and "Line 2, “/[z-a]”, is not a gitignore pattern" in bad.content.decode()
    server.refresh_from_db()
    assert server.backup_ignore == "*.ini"  # nothing lost, nothing half-saved


def test_a_backup_cancelled_while_queued_fails_and_blocks_nothing(owner_client, owner, server, files):
    first = owner_client.post(f"/api/v1/servers/{server.id}/backups").json()
    answer = owner_client.post(f"/api/v1/servers/{server.id}/backups")
    assert answer.status_code == 409 and "already being made" in answer.json()["detail"]
    Job.objects.get(pk=first["job"]["id"]).request_cancel(owner)
    assert owner_client.post(f"/api/v1/servers/{server.id}/backups").status_code == 202
    assert Backup.objects.get(pk=first["backup"]["id"]).state == BackupState.FAILED


def test_deleting_a_server_deletes_its_archives(owner_client, server, files, store):
    backup = back_up(owner_client, server)
    assert (store / backup.key).exists()
    server.delete()
    assert not (store / backup.key).exists()


@pytest.mark.slow
def test_a_real_worker_process_backs_up_and_restores_through_the_api(owner, server, files, store, tmp_path):
    from api.models import ApiKey

    from .processes import running, start_worker, stop_gracefully, wait_until

    key = ApiKey.new(owner, "backups", ["backups.read", "backups.create", "backups.restore"])[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client = Client()
    before = snapshot(files)
    env = {"HOSTCTL_ROOT": files.parent, "L4D2_BACKUP_DIR": store}

    def finished(job_id):
        wait_until(
            lambda: client.get(f"/api/v1/jobs/{job_id}", **headers).json()["state"] in FINISHED, timeout=60
        )
        return client.get(f"/api/v1/jobs/{job_id}", **headers).json()

    with running(start_worker("--poll", "0.1", log_path=tmp_path / "worker.log", **env)) as worker:
        made = client.post(f"/api/v1/servers/{server.id}/backups", **headers).json()
        assert finished(made["job"]["id"])["state"] == "succeeded"
        (files / "left4dead2/motd.txt").write_bytes(b"defaced")
        (files / "left4dead2/cfg/autoexec.cfg").unlink()
        job = client.post(
            f"/api/v1/backups/{made['backup']['id']}/restore", {}, content_type="application/json", **headers
        ).json()["job"]
        done = finished(job["id"])
        stop_gracefully(worker)
    assert done["state"] == "succeeded" and done["progress"] == 100
    assert snapshot(files) == before
