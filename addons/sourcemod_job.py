"""The `sourcemod` job as the worker runs it: hostctl.sourcemod on the game host, then what it
left (the manifests) recorded in ModState, and the activity event once it succeeded.

Registered as the kind's operation in l4d2_facade by AddonsConfig.ready(), so servers/ (below
this app) never imports it.
"""

from django.conf import settings
from django.utils import timezone

import activity
from hostctl import sourcemod
from jobs.models import ACTIVE_STATES, Job, JobKind
from jobs.models.job import VIA
from servers.models import Server

from .models import ModName, ModState

EVENTS = {"install": "addon.installed", "update": "addon.updated", "remove": "addon.removed"}


def sources():
    return sourcemod.Sources(
        sourcemod_url=settings.L4D2_SOURCEMOD_URL,
        sourcemod_branch=settings.L4D2_SOURCEMOD_BRANCH,
        metamod_url=settings.L4D2_METAMOD_URL,
        metamod_branch=settings.L4D2_METAMOD_BRANCH,
    )


def run(spec, sink, cancel=None, *, config, params):
    """l4d2_facade's operation for the kind: the exit code; HostError for what the owner can fix."""
    try:
        code = sourcemod.run(spec, sink, cancel, params=params, sources=sources())
    finally:
        # Whatever happened (a failure after MetaMod went in, say), the rows follow the files.
        changed = record_state(spec)
    if code == 0:
        _record_event(spec.id, params["action"], changed)
    return code


def record_state(spec):
    """ModState from the manifests on this host; the states that changed."""
    now = timezone.now()
    changed = []
    for name, manifest in sourcemod.installed(spec).items():
        version = manifest.version if manifest else ""
        values = {
            "version": version,
            "files": len(manifest.files) if manifest else 0,
            "archive_sha256": manifest.sha256 if manifest else "",
        }
        state = ModState.objects.filter(server_id=spec.id, name=name).first()
        if state is None and not version:
            continue  # never installed: nothing to say
        if state is None or any(getattr(state, key) != value for key, value in values.items()):
            state, _ = ModState.objects.update_or_create(
                server_id=spec.id, name=name, defaults={**values, "changed_at": now}
            )
            changed.append(state)
    return changed


def _record_event(server_id, action, changed):
    job = Job.objects.filter(server_id=server_id, kind=JobKind.SOURCEMOD, state__in=ACTIVE_STATES).first()
    server = Server.objects.get(pk=server_id)
    mods = [f"{ModName(state.name).label} {state.version}".strip() for state in changed]
    detail = {"mods": mods or ["nothing changed"], "job": job.pk if job else None}
    activity.record(
        EVENTS[action],
        actor=job.requested_by if job else None,
        via=VIA.get(job.trigger, "web") if job else "web",
        server=server,
        detail=detail,
    )
