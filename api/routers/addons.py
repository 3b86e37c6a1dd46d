"""A server's addons: SourceMod, MetaMod, plugins, admins, Workshop items (DESIGN.md §14)."""

from django.conf import settings
from ninja import Body, Router, Schema, Status

from addons import service
from servers.access import server_for_user
from servers.files.errors import FileError

from .. import representations as show
from .workshop import workshop_list

router = Router(tags=["addons"])


class ActionIn(Schema):
    action: str


class AdminIn(Schema):
    steam_id: str
    flags: list[str] = []
    immunity: int = 0
    name: str = ""


class PluginIn(Schema):
    enabled: bool


@router.get("/servers/{int:server_id}/addons", url_name="addons")
def addons(request, server_id: int):
    """SourceMod and MetaMod as installed (null: not installed), the plugins and the panel's admins
    as the game host has them now (null, with `host_error`, when it cannot be reached; `admins_file`
    tells the file's sha256 and the lines the owner wrote or the panel cannot read), Workshop items."""
    target = server_for_user(request.user, server_id, "addons.read")
    mods = service.mod_states(target)
    answer = {
        "sourcemod": service.mod_json(mods["sourcemod"]),
        "metamod": service.mod_json(mods["metamod"]),
        "plugins": None,
        "admins": None,
        "admins_file": None,
        "workshop": workshop_list(target),
    }
    try:
        answer["plugins"] = [_plugin(plugin) for plugin in service.plugins(target)]
        answer.update(_admins(service.read_admins(target)))
    except FileError as exc:
        answer["host_error"] = exc.detail
    return answer


@router.post("/servers/{int:server_id}/addons/sourcemod", response={202: dict}, url_name="addons_sourcemod")
def sourcemod_action(request, server_id: int, body: ActionIn):
    """Install, update or remove SourceMod and MetaMod:Source: a `sourcemod` job (202)."""
    target = server_for_user(request.user, server_id, "addons.update")
    job = service.enqueue_sourcemod(target, request.user, body.action, request=request)
    return Status(202, {"job": {**show.job(request, job), "duplicate": job.duplicate}})


@router.put("/servers/{int:server_id}/addons/admins", url_name="addons_admins")
def admins_update(request, server_id: int, body: Body[list[AdminIn]]):
    """The panel's admins (all of them: a missing one is removed); the file's other lines stay."""
    target = server_for_user(request.user, server_id, "addons.update")
    admins = service.parse_admins([row.dict() for row in body])
    note = service.save_admins(target, request.user, admins, request=request)
    return {**_admins(service.read_admins(target)), "note": note}


@router.post("/servers/{int:server_id}/addons/plugins/{file}", url_name="addons_plugin")
def plugin_update(request, server_id: int, file: str, body: PluginIn):
    """Enable (move into plugins/) or disable (into plugins/disabled/) a plugin."""
    target = server_for_user(request.user, server_id, "addons.update")
    note = service.set_plugin_enabled(target, request.user, file, body.enabled, request=request)
    return {"file": file, "enabled": body.enabled, "note": note}


@router.put("/servers/{int:server_id}/addons/plugins/{file}", url_name="addons_plugin_upload")
def plugin_upload(request, server_id: int, file: str):
    """Upload a compiled plugin: the request's body, raw (`curl -T mine.smx`), into plugins/ (enabled).
    Refused (400) unless it starts with the `.smx` magic `FFPS`; 413 over L4D2_PLUGIN_MAX_KB."""
    target = server_for_user(request.user, server_id, "addons.update")
    data = request.read(settings.L4D2_PLUGIN_MAX_KB * 1024 + 1)
    note = service.upload_plugin(target, request.user, file, data, request=request)
    return {"file": file, "enabled": True, "note": note}


@router.delete("/servers/{int:server_id}/addons/plugins/{file}", url_name="addons_plugin_delete")
def plugin_delete(request, server_id: int, file: str):
    target = server_for_user(request.user, server_id, "addons.update")
    note = service.delete_plugin(target, request.user, file, request=request)
    return {"file": file, "deleted": True, "note": note}


def _plugin(plugin):
    return {"file": plugin.file, "enabled": plugin.enabled, "size": plugin.size, "modified": plugin.modified}


def _admins(admins):
    """{"admins": [...], "admins_file": {...}}; both null without admins_simple.ini."""
    if not admins.exists:
        return {"admins": None, "admins_file": None}
    file = admins.file
    return {
        "admins": [service.admin_json(admin) for admin in file.admins],
        "admins_file": {
            "sha256": admins.sha256,
            "hand_written": [{"line": line.number, "text": line.text} for line in file.hand_written],
            "unreadable": [{"line": line.number, "text": line.text} for line in file.unreadable],
        },
    }
