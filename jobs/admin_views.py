"""/admin/jobs: every job on the host for staff, in the shared job table, filterable.

The one "all jobs" page: the Django admin's own job changelist redirects here
(jobs/admin.py), and the admin's bulk actions on jobs are offered here, posted to
that changelist as the admin expects them.
"""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from l4d2site.pagination import keyset_page, positive_id
from servers.models import Server

from .models import Job, JobKind, JobState, JobTrigger

FILTERS = {"state": JobState.choices, "kind": JobKind.choices, "trigger": JobTrigger.choices}
# The admin changelist's filter parameters, by the name /admin/jobs gives them.
CHANGELIST_FILTERS = {
    "state__exact": "state",
    "kind__exact": "kind",
    "trigger__exact": "trigger",
    "server__id__exact": "server",
}


def staff_only(view):
    """Anonymous: the panel's login page. Logged in, not staff: a page saying so (403), not a login form."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            context = {
                "title": "Staff only",
                "message": "This page is for the host's staff. Your account sees its own servers and jobs.",
            }
            return render(request, "403.html", context, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def job_filters(params):
    """The valid filters in `params`: {"state": ..., "kind": ..., "server": id}; unknown values dropped."""
    chosen = {field: params.get(field, "") for field in FILTERS}
    chosen = {field: value for field, value in chosen.items() if value in dict(FILTERS[field])}
    server_id = positive_id(params.get("server"))
    if server_id:
        chosen["server"] = server_id
    return chosen


@staff_only
def admin_jobs(request):
    """Every job in the shared job table, filterable by state, kind, trigger and server, newest first."""
    chosen = job_filters(request.GET)
    lookups = {("server_id" if field == "server" else field): value for field, value in chosen.items()}
    page = keyset_page(Job.objects.filter(**lookups).row_keys(), request.GET)
    model_admin = admin.site.get_model_admin(Job)
    # The same filters on the changelist: where the admin sends staff back after an action.
    as_changelist = {name: chosen[field] for name, field in CHANGELIST_FILTERS.items() if field in chosen}
    context = {
        "page": page,
        "source": Job.objects,
        "states": JobState.choices,
        "kinds": JobKind.choices,
        "triggers": JobTrigger.choices,
        "servers": Server.objects.only("id", "name").order_by("name"),
        "selected": {field: str(chosen.get(field, "")) for field in (*FILTERS, "server")},
        "filtered": bool(chosen),
        "actions": model_admin.get_action_choices(request) if page.jobs else [],
        "actions_query": urlencode(as_changelist),
        "selectable": True,
    }
    return render(request, "admin/jobs.html", context)
