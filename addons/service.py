"""What the addons page and the API do, in one place: the `sourcemod` job, plugins, admins.

Plugins and admins are files on the game host: they are listed, moved, written and deleted
through the file relay (servers/files/relay.py: the worker of the server's node does the
disk work and checks every path at the moment of use). After a change, a running server
whose SourceMod is loaded is told to reload (`sm plugins refresh`, `sm_reloadadmins`) through
its console; one started before SourceMod went in needs a restart, and the page says so.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.dateparse import parse_datetime

import activity
from hostctl import smadmins, sourcemod
from jobs.models import Job, JobKind
from jobs.rules import LIVE_STATES, refusal
from servers.console.commands import Refused, submit
from servers.files import relay
from servers.files.errors import FileError

from .models import ModName, ModState

ACTIONS = sourcemod.ACTIONS


class AddonError(Exception):
    """A request the panel refuses, with its HTTP status and the reason in words."""

    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


# --- SourceMod and MetaMod ------------------------------------------------------------------


def enqueue_sourcemod(server, user, action, *, request=None):
    """Queue the `sourcemod` job for `action` (install, update, remove); AddonError if refused."""
    if action not in ACTIONS:
        raise AddonError(400, f"“{action}” is not a SourceMod action. Use one of: {', '.join(ACTIONS)}.")
    if why := refusal(JobKind.SOURCEMOD, server):
        raise AddonError(409, why)
    return Job.enqueue(server, JobKind.SOURCEMOD, user, request=request, params={"action": action})


def mod_states(server):
    """{"metamod": ModState or None, "sourcemod": ...}."""
    states = {state.name: state for state in ModState.objects.filter(server=server)}
    for state in states.values():
        state.server = server  # restart_needed reads the server's state: no second query
    return {name: states.get(name) for name in ModName.values}


def sourcemod_loaded(server):
    """Whether the running server has SourceMod loaded: running, and started after it went in."""
    state = mod_states(server)["sourcemod"]
    return (
        server.actual_state in LIVE_STATES
        and state is not None
        and state.installed
        and not state.restart_needed
    )


def mod_json(state):
    if state is None or not state.installed:
        return None
    return {
        "version": state.version,
        "files": state.files,
        "archive_sha256": state.archive_sha256,
        "changed_at": state.changed_at,
        "restart_needed": state.restart_needed,
    }


# --- plugins ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plugin:
    file: str
    enabled: bool
    size: int
    modified: str  # ISO 8601, as the game host says it

    @property
    def modified_at(self):
        return parse_datetime(self.modified)


def plugins(server):
    """Every `.smx` in plugins/ (enabled) and plugins/disabled/, by name; [] without SourceMod.
    FileError if the game host cannot be reached."""
    found = []
    for folder, enabled in ((sourcemod.PLUGINS, True), (sourcemod.DISABLED, False)):
        try:
            entries = relay.list_dir(server, folder)["entries"]
        except FileError as exc:
            if exc.status == 404:
                continue
            raise
        found += [
            Plugin(e["name"], enabled, e["size"], e["modified"])
            for e in entries
            if e["type"] == "file" and e["name"].endswith(".smx")
        ]
    return sorted(found, key=lambda plugin: (plugin.file.lower(), not plugin.enabled))


def check_plugin_name(name):
    """A plugin's file name as the pages and the API name it: `<name>.smx`, one path component."""
    if not isinstance(name, str) or not name.endswith(".smx") or "/" in name or "\\" in name:
        raise AddonError(400, "Name a plugin by its file name, such as funcommands.smx.")
    if name.startswith(".") or "\0" in name or len(name) > 128:
        raise AddonError(400, f"“{name}” is not a plugin's file name.")
    return name


def set_plugin_enabled(server, user, name, enabled, *, request=None):
    """Move the plugin into plugins/ (enabled) or plugins/disabled/; the reload note."""
    name = check_plugin_name(name)
    there, here = (
        (sourcemod.DISABLED, sourcemod.PLUGINS) if enabled else (sourcemod.PLUGINS, sourcemod.DISABLED)
    )
    try:
        relay.rename(server, f"{there}/{name}", f"{here}/{name}")
    except FileError as exc:
        if exc.status == 404 and _exists(server, f"{here}/{name}"):
            return f"{name} is already {'enabled' if enabled else 'disabled'}."
        raise
    action = "plugin.enabled" if enabled else "plugin.disabled"
    activity.record(action, server=server, request=request, actor=user, detail={"plugin": name})
    return _reload(server, user, "sm plugins refresh", request)


def upload_plugin(server, user, name, data, *, request=None):
    """Write an uploaded plugin into plugins/ (enabled); AddonError unless it is a compiled plugin."""
    name = check_plugin_name(name)
    limit = settings.L4D2_PLUGIN_MAX_KB * 1024
    if len(data) > limit:
        raise AddonError(
            413, f"{name} is {len(data) // 1024} KB; plugins of at most {limit // 1024} KB are accepted."
        )
    if not sourcemod.is_smx(data):
        raise AddonError(
            400,
            f"{name} is not a compiled SourceMod plugin (a .smx file starts with “FFPS”). "
            "Upload the .smx that spcomp makes, not the .sp source.",
        )
    if _exists(server, f"{sourcemod.DISABLED}/{name}"):
        raise AddonError(409, f"{name} is among the disabled plugins: delete that one first, or enable it.")
    replaced = _exists(server, f"{sourcemod.PLUGINS}/{name}")
    relay.write_file(server, f"{sourcemod.PLUGINS}/{name}", data)
    detail = {"plugin": name, "size": len(data), "replaced": replaced}
    activity.record("plugin.uploaded", server=server, request=request, actor=user, detail=detail)
    note = _reload(server, user, "sm plugins refresh", request)
    return f"It replaced the plugin of that name. {note}" if replaced else note


def delete_plugin(server, user, name, *, request=None):
    name = check_plugin_name(name)
    for folder in (sourcemod.PLUGINS, sourcemod.DISABLED):
        try:
            relay.delete(server, [f"{folder}/{name}"])
        except FileError as exc:
            if exc.status == 404:
                continue
            raise
        activity.record("plugin.deleted", server=server, request=request, actor=user, detail={"plugin": name})
        return _reload(server, user, "sm plugins refresh", request)
    raise AddonError(404, f"There is no plugin {name}.")


def _exists(server, path):
    folder, _, name = path.rpartition("/")
    try:
        entries = relay.list_dir(server, folder)["entries"]
    except FileError as exc:
        if exc.status == 404:
            return False
        raise
    return any(entry["name"] == name for entry in entries)


# --- admins -------------------------------------------------------------------------------


@dataclass
class Admins:
    """admins_simple.ini as read: the panel's admins, the owner's own lines, and its sha256."""

    exists: bool
    sha256: str | None
    file: smadmins.AdminsFile = field(default_factory=smadmins.AdminsFile)


def read_admins(server):
    """The file read through the relay; exists=False without SourceMod's configs."""
    try:
        content = relay.read_file(server, sourcemod.ADMINS)
    except FileError as exc:
        if exc.status == 404:
            return Admins(exists=False, sha256=None)
        raise
    return Admins(True, content.sha256, smadmins.parse(content.data.decode("utf-8", errors="replace")))


def admin_json(admin, managed=True):
    return {
        "steam_id": admin.steam_id,
        "steam_id64": str(smadmins.steam_id64(admin.steam_id)),
        "flags": list(admin.flags),
        "immunity": admin.immunity,
        "name": admin.name,
        "managed": managed,
    }


def parse_admins(rows):
    """[{"steam_id", "flags", "immunity", "name"}, ...] -> [Admin]; AdminError naming the row."""
    admins, seen = [], set()
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise AddonError(
                400, f"Admin {number}: expected an object with steam_id, flags, immunity and name."
            )
        try:
            admin = smadmins.Admin.make(
                row.get("steam_id"), row.get("flags") or [], row.get("immunity") or 0, row.get("name") or ""
            )
        except smadmins.AdminError as exc:
            raise AddonError(400, f"Admin {number}: {exc}") from None
        if admin.steam_id in seen:
            raise AddonError(400, f"Admin {number}: {admin.steam_id} is listed twice.")
        seen.add(admin.steam_id)
        admins.append(admin)
    return admins


def save_admins(server, user, admins, *, expected_sha256=None, request=None):
    """Write `admins` into the panel's block, keeping every other line of the file.

    `expected_sha256`: the file as the page showed it (Conflict, 409, if it changed since);
    without it (the API), the file as read just now, so a change in between is not lost either.
    Returns the reload note.
    """
    current = read_admins(server)
    if not current.exists:
        raise AddonError(
            409, "SourceMod is not installed (there is no configs/admins_simple.ini): install it first."
        )
    text = current.file.render(admins)
    relay.write_file(
        server, sourcemod.ADMINS, text.encode(), expected_sha256=expected_sha256 or current.sha256
    )
    detail = {"admins": len(admins), "steam_ids": [admin.steam_id for admin in admins][:20]}
    activity.record("admins.updated", server=server, request=request, actor=user, detail=detail)
    return _reload(server, user, "sm_reloadadmins", request)


# --- the running server ---------------------------------------------------------------------


def _reload(server, user, command, request):
    """Tell a running server with SourceMod loaded to reload; else say when the change applies."""
    if not sourcemod_loaded(server):
        if server.actual_state in LIVE_STATES:
            return "Restart the server to load SourceMod: it was installed after the server started."
        return "The server loads it at its next start."
    try:
        # As the panel (no user): a member may change plugins without console.command, and
        # the reload must not count against their own commands' rate.
        submit(server, None, command, request=request, detail={"why": "addons"})
    except Refused as exc:
        return (
            f"The server could not be told to reload ({exc.reason}); it loads the change at its next start."
        )
    return f"The server was told to reload (“{command}” sent to its console)."
