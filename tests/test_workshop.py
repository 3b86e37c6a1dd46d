"""Workshop items end to end: a real worker process, the fake Steam Web API and download host
(hostctl/sim/steam_web.py, in this process) and the steamcmd simulator, real files."""

import pytest

from addons import workshop
from addons.models import WorkshopItem, WorkshopState
from automation.actions import run as run_schedule
from automation.models import Schedule, ScheduleAction
from hostctl.sim.workshop_items import COLLECTION
from jobs.models import Job, JobState
from servers.maps import map_choices, map_names
from servers.models import ActualState

from .processes import running, start_worker, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def game(server, sim_host):
    """An installed, stopped server (its game folder is all a Workshop job needs)."""
    (sim_host / str(server.id) / "left4dead2").mkdir(parents=True)
    server.actual_state = ActualState.STOPPED
    server.save(update_fields=["actual_state"])
    return server


@pytest.fixture
def worker(sim_host, steam_url, tmp_path):
    proc = start_worker(
        "--poll", "0.1", log_path=tmp_path / "worker.log", HOSTCTL_ROOT=sim_host,
        HOSTCTL_SIM_SECONDS=0.2, L4D2_STEAM_API_URL=steam_url, L4D2_STEAM_API_TIMEOUT=1,
    )  # fmt: skip
    with running(proc):
        yield proc


def finished(job):
    wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    return job


def log_text(job):
    return "\n".join(job.logs.order_by("seq").values_list("line", flat=True))


def addons(server, sim_host):
    return sorted(p.name for p in (sim_host / str(server.id) / "left4dead2" / "addons").iterdir())


def test_a_collection_of_3_installs_3_vpks_whose_maps_appear_in_the_map_choice(game, owner, worker, sim_host):
    job = finished(workshop.add(game, owner, [], COLLECTION))
    assert job.state == JobState.SUCCEEDED, log_text(job)
    assert addons(game, sim_host) == ["3000000001.vpk", "3000000002.vpk", "3000000003.vpk"]
    rows = WorkshopItem.objects.filter(server=game).order_by("item_id")
    assert [(r.title, r.state) for r in rows] == [
        ("Sim Campaign One", WorkshopState.INSTALLED),
        ("Sim Campaign Two", WorkshopState.INSTALLED),
        ("Sim Campaign Three", WorkshopState.INSTALLED),
    ]
    choices = map_choices(game)
    assert ("Workshop: Sim Campaign Two", [
        ("simtwo_m1", "Sim Campaign Two 1: simtwo_m1"),
        ("simtwo_m2", "Sim Campaign Two 2: simtwo_m2"),
        ("simtwo_m3", "Sim Campaign Two 3: simtwo_m3"),
    ]) in choices  # fmt: skip
    assert {"simone_m1", "simthree_m2", "c1m1_hotel"} <= map_names(choices)
    assert job.progress == 100


def test_a_private_item_fails_its_job_with_the_reason(game, owner, worker):
    job = finished(
        workshop.add(game, owner, ["https://steamcommunity.com/sharedfiles/filedetails/?id=3000000009"])
    )
    assert job.state == JobState.FAILED
    assert "it is missing or private on the Workshop (Steam answered result 9)" in log_text(job)
    row = WorkshopItem.objects.get(server=game, item_id="3000000009")
    assert row.state == WorkshopState.FAILED and "private" in row.error


def test_a_cancelled_workshop_job_leaves_no_partial_vpk(game, owner, worker, sim_host):
    job = workshop.add(game, owner, ["3000000007"])  # served slowly, 4 MB
    wait_until(lambda: (Job.objects.get(pk=job.pk).progress or 0) > 0, timeout=30)
    job.request_cancel(owner)
    job = finished(job)
    assert job.state == JobState.CANCELLED, log_text(job)
    assert addons(game, sim_host) == []
    assert "no partial file was left" in log_text(job)


def test_remove_and_the_scheduled_update_go_through_jobs(game, owner, worker, sim_host):
    assert finished(workshop.add(game, owner, ["3000000001", "3000000002"])).state == JobState.SUCCEEDED
    schedule = Schedule.objects.create(server=game, cron="0 5 * * *", action=ScheduleAction.WORKSHOP_UPDATE)
    job, said = run_schedule(schedule)
    assert said == f"Queued as job #{job.id}."
    job = finished(job)
    assert job.state == JobState.SUCCEEDED
    assert "unchanged on Steam since it was installed" in log_text(job)
    assert finished(workshop.remove(game, owner, "3000000001")).state == JobState.SUCCEEDED
    assert addons(game, sim_host) == ["3000000002.vpk"]
    assert list(WorkshopItem.objects.filter(server=game).values_list("item_id", flat=True)) == ["3000000002"]


def test_bad_input_is_refused_by_name_and_queues_nothing(game, owner):
    with pytest.raises(workshop.Refused, match="'nope' is neither a Workshop item id nor a link"):
        workshop.add(game, owner, ["123", "nope"])
    assert not Job.objects.exists()
