"""Update detection: a worker loop on each game host that keeps the servers' builds true and acts on new ones.

Each pass, for the servers of this worker's node whose update policy is not `off`:
1. `installed_build` is read again from each appmanifest (cheap: one small file each);
2. console.log is scanned for srcds's "needs to be restarted ... latest update" notice,
   which makes the next step happen now instead of at its interval;
3. at most once per L4D2_UPDATE_CHECK_MINUTES per node (UpdateCheck.claim: one worker
   of the node wins), steamcmd is asked for the latest build; the answer goes to the
   UpdateCheck row and to `latest_build` of the node's servers;
4. a server whose latest build is newer than its installed one: `notify` emits
   server.update_available once per build; `apply` also queues an update job
   (trigger=monitor) once per build (ServerUpdate.mark: one worker wins).
A failed or refused steamcmd check is logged and kept on the UpdateCheck row (admin);
the next one comes after the interval.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from hostctl.errors import HostError
from hostctl.process import CancelToken
from jobs.models import Job, JobKind, JobTrigger
from l4d2site.loops import WorkerLoop
from servers import events, l4d2_facade
from servers.live import notify_server
from servers.models import Server, UpdatePolicy

from .models import ServerUpdate, UpdateCheck

log = logging.getLogger(__name__)


def newer(latest, installed):
    """True if build `latest` is newer than `installed` (both digits; unknown is never newer)."""
    return latest.isdigit() and installed.isdigit() and int(latest) > int(installed)


def servers_of(node_name):
    """The servers this node's worker looks after whose builds are watched."""
    return Server.objects.on_node(node_name).exclude(update_policy=UpdatePolicy.OFF)


class UpdateWatcher(WorkerLoop):
    interval = 5.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.notices = l4d2_facade.NoticeScanner()
        self.node_key = self.node_name or ""
        self.cancel = CancelToken()  # a stopping worker does not wait for steamcmd

    def stop(self, timeout=10):
        self.cancel.cancel()
        super().stop(timeout)

    def run_once(self):
        servers = list(servers_of(self.node_name))
        noticed = None
        for server in servers:
            self.refresh_installed(server)
            if self.notices.seen(l4d2_facade.console_log(server)):
                log.info("server %s says a game update is out: checking now", server.id)
                noticed = timezone.now()
        if any(server.installed_build for server in servers):
            self.check_latest(servers, noticed)
        for server in servers:
            act_on(server)

    def refresh_installed(self, server):
        build = l4d2_facade.installed_build(server)
        if build != server.installed_build:
            Server.objects.filter(pk=server.pk).update(installed_build=build, updated_at=timezone.now())
            server.installed_build = build
            notify_server(server.id)

    def check_latest(self, servers, noticed):
        """Ask steamcmd if the node's interval has passed (or srcds said there is news since the last ask)."""
        due = timezone.now() - timedelta(minutes=settings.UPDATE_CHECK_MINUTES)
        if noticed is not None:
            due = max(due, noticed)
        if UpdateCheck.claim(self.node_key, checked_before=due):
            try:
                latest = l4d2_facade.latest_build(cancel=self.cancel)
            except HostError as exc:
                log.warning("latest build check on %s failed: %s", self.node_key or "the panel host", exc)
                UpdateCheck.objects.filter(node_name=self.node_key).update(error=str(exc))
            else:
                log.info("latest build of the game: %s", latest)
                UpdateCheck.objects.filter(node_name=self.node_key).update(latest_build=latest, error="")
        # Every worker of the node copies the node's answer, whoever asked for it.
        latest = (
            UpdateCheck.objects.filter(node_name=self.node_key).values_list("latest_build", flat=True).first()
        )
        for server in servers:
            if latest and server.latest_build != latest:
                Server.objects.filter(pk=server.pk).update(latest_build=latest, updated_at=timezone.now())
                server.latest_build = latest
                notify_server(server.id)


def act_on(server):
    """Announce (notify) or apply (apply) a newer build, once per build whoever else is looking."""
    latest, installed = server.latest_build, server.installed_build
    if not newer(latest, installed):
        return
    text = f"A game update is available for {server.name}: build {installed} → {latest}."
    if server.update_policy == UpdatePolicy.APPLY:
        if ServerUpdate.mark(server.pk, "applied_build", latest):
            reason = f"game update to build {latest}"
            job = Job.enqueue(
                server, JobKind.UPDATE, None, trigger=JobTrigger.MONITOR, detail={"reason": reason}
            )
            ServerUpdate.mark(server.pk, "notified_build", latest)
            log.info("server %s: applying build %s as job %s", server.id, latest, job.id)
            events.emit(
                "server.update_available", server, f"{text} Applying it now (job #{job.id}).", job=job
            )
    elif ServerUpdate.mark(server.pk, "notified_build", latest):
        events.emit("server.update_available", server, text)
