"""The one place that decides who may see a job: the owner of its server, or staff.

Outsiders get 404, never 403, so a job's existence is not leaked.
"""

from django.http import Http404

from .models import Job


def job_for_user(user, job_id):
    if not user.is_authenticated:
        raise Http404("No such job.")
    try:
        return (
            Job.objects.visible_to(user)
            .select_related("server", "server__owner", "server__node")
            .get(pk=job_id)
        )
    except Job.DoesNotExist:
        raise Http404("No such job.") from None


def check_job_visible(user, job_id):
    """Http404 unless the user may see the job: one indexed lookup, no rows loaded.

    For the log's live streams, which need nothing of the job but the right to follow it
    (a crowd opening one page at once should cost as little as possible).
    """
    if not (user.is_authenticated and Job.objects.visible_to(user).filter(pk=job_id).exists()):
        raise Http404("No such job.")
