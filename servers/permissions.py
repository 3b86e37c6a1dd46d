"""The permission names of team access (DESIGN.md §11): one table, with what each lets a member do.

Pages, WebSockets, SSE, the admin and the API check these same names through
`servers.access`. Each has the words for its checkbox and the reason a member without
it is given ("You may not stop this server.").
"""

from typing import NamedTuple


class Permission(NamedTuple):
    name: str
    label: str  # the checkbox: what it allows
    denied: str  # completes "You may not ..."


GROUPS = [
    ("Server", [Permission("server.read", "See the server, its jobs and their logs", "see this server")]),
    (
        "Console",
        [
            Permission("console.read", "Watch the console", "watch this server's console"),
            Permission("console.command", "Send console commands", "send commands to this server's console"),
        ],
    ),
    (
        "Power",
        [
            Permission("power.start", "Start", "start this server"),
            Permission("power.stop", "Stop", "stop this server"),
            Permission("power.restart", "Restart", "restart this server"),
            Permission("jobs.cancel", "Cancel jobs", "cancel this server's jobs"),
        ],
    ),
    ("Game", [Permission("game.install", "Install and update the game", "install or update this server")]),
    (
        "Settings",
        [
            Permission("settings.read", "See the settings and server.cfg", "see this server's settings"),
            Permission("settings.update", "Change the settings", "change this server's settings"),
            Permission(
                "rcon.reveal", "Reveal and rotate the RCON password", "see this server's RCON password"
            ),
        ],
    ),
    (
        "Files",
        [
            Permission("files.read", "Browse and download files", "see this server's files"),
            Permission("files.update", "Edit, upload, rename and delete files", "change this server's files"),
        ],
    ),
    (
        "Backups",
        [
            Permission("backups.read", "See the backups", "see this server's backups"),
            Permission("backups.create", "Make backups", "back up this server"),
            Permission("backups.restore", "Restore backups", "restore this server's backups"),
            Permission("backups.download", "Download backups", "download this server's backups"),
            Permission("backups.delete", "Delete and lock backups", "delete this server's backups"),
        ],
    ),
    (
        "Addons",
        [
            Permission(
                "addons.read", "See SourceMod, plugins and Workshop items", "see this server's addons"
            ),
            Permission("addons.update", "Install and remove addons", "change this server's addons"),
        ],
    ),
    (
        "Schedules",
        [
            Permission("schedules.read", "See the schedules", "see this server's schedules"),
            Permission(
                "schedules.update", "Add, change and delete schedules", "change this server's schedules"
            ),
            Permission("webhooks.update", "Add webhooks for this server", "add webhooks for this server"),
        ],
    ),
    (
        "Team",
        [
            Permission("members.read", "See the members", "see this server's members"),
            Permission("members.update", "Invite, change and remove members", "change this server's members"),
        ],
    ),
    ("Activity", [Permission("activity.read", "See who did what", "see this server's activity")]),
]

PERMISSIONS = {perm.name: perm for _, perms in GROUPS for perm in perms}
ALL = frozenset(PERMISSIONS)
# Every member may see the server: a membership without it would be no membership.
IMPLIED = frozenset({"server.read"})
READ = frozenset(name for name in ALL if name.endswith(".read"))
TEAM = frozenset({"members.read", "members.update"})

PRESETS = {
    "admin": ("Admin", ALL - TEAM),
    "moderator": (
        "Moderator",
        IMPLIED
        | {"console.read", "console.command", "power.start", "power.stop", "power.restart", "jobs.cancel"},
    ),
    "viewer": ("Viewer", READ),
}


def clean(names):
    """The known permission names among `names`, plus the implied ones, as a sorted list."""
    return sorted((set(names) & ALL) | IMPLIED)


def reason(name):
    """Why a member without `name` is refused, in words."""
    return f"You may not {PERMISSIONS[name].denied}."
