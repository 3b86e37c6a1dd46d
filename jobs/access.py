"""Who may see a job and act on it: whoever may see its server (servers.access), each action
asking for its own permission. Outsiders get 404, never 403, so a job's existence is not leaked.
"""

from django.http import Http404

from servers.access import server_for_user

from .models import Job, JobKind

# What enqueueing (or re-running) each kind asks of the member (DESIGN.md §11).
KIND_PERMISSION = {
    JobKind.INSTALL: "game.install",
    JobKind.UPDATE: "game.install",
    JobKind.START: "power.start",
    JobKind.STOP: "power.stop",
    JobKind.RESTART: "power.restart",
    JobKind.SOURCEMOD: "addons.update",
    JobKind.WORKSHOP: "addons.update",
    JobKind.BACKUP: "backups.create",
    JobKind.RESTORE: "backups.restore",
}


def job_for_user(user, job_id, perm="server.read"):
    """The job, if `user` may see its server (else 404) and holds `perm` there (else 403).

    Read by its key, then checked on its server as `server_for_user` checks a server page:
    filtering by `visible_to` with the server, its owner and node joined was a third of the
    job page (1.4 of 4.5 ms of CPU), nearly all of it Django building the SQL.
    """
    if not user.is_authenticated:
        raise Http404("No such job.")
    try:
        job = Job.objects.select_related("requested_by").get(pk=job_id)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    job.server = server_for_user(user, job.server_id, perm, missing="No such job.")
    return job


def check_job_visible(user, job_id):
    """The job's server id; Http404 unless the user may see the job: one indexed lookup.

    For the log's live streams, which need nothing of the job but the right to follow it
    (a crowd opening one page at once should cost as little as possible).
    """
    if user.is_authenticated:
        server_id = Job.objects.visible_to(user).filter(pk=job_id).values_list("server_id", flat=True).first()
        if server_id is not None:
            return server_id
    raise Http404("No such job.")
