"""What the API says about each thing: plain dicts, the same shape everywhere a thing appears."""

from django.urls import reverse

from servers.access import permissions_of


def iso(value):
    return value.isoformat() if value else None


def server(request, server):
    return {
        "id": server.id,
        "name": server.name,
        "port": server.port,
        "owner": server.owner.get_username(),
        "map": server.map,
        "max_players": server.max_players,
        "desired_state": server.desired_state,
        "actual_state": server.actual_state,
        "map_seen": server.map_seen or None,
        "player_count": server.player_count,
        "installed_build": server.installed_build or None,
        "latest_build": server.latest_build or None,
        "auto_restart": server.auto_restart,
        "update_policy": server.update_policy,
        "permissions": sorted(permissions_of(request.user, server)),
        "url": request.build_absolute_uri(server.get_absolute_url()),
    }


def job(request, job):
    return {
        "id": job.id,
        "server": job.server_id,
        "kind": job.kind,
        "state": job.state,
        "trigger": job.trigger,
        "requested_by": job.requested_by.get_username() if job.requested_by_id else None,
        "parent": job.parent_id,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "exit_code": job.exit_code,
        "progress": job.progress,
        "url": request.build_absolute_uri(job.get_absolute_url()),
        "lines_url": request.build_absolute_uri(reverse("api-1:job_lines", args=[job.id])),
        "events_url": request.build_absolute_uri(reverse("jobs:events", args=[job.id])),
    }
