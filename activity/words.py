"""Events in words: what each action is called, and its detail in one short line.

One table (like Pterodactyl's `resources/lang/en/activity.php`): the pages, the live
rows and the admin all name an action the same way; the filter's choices come from
it too. An action missing here is shown by its dotted name, so a new one never breaks
a page.
"""

GROUPS = {
    "auth": "Logins",
    "account": "Account",
    "api_key": "API keys",
    "job": "Jobs",
    "console": "Console",
    "settings": "Settings",
    "rcon": "RCON password",
    "schedule": "Schedules",
    "webhook": "Webhooks",
    "member": "Members",
    "invite": "Invites",
    "server": "Server",
    "addon": "Addons",
    "plugin": "Plugins",
    "admins": "SourceMod admins",
    "workshop": "Workshop",
    "file": "Files",
    "folder": "Folders",
    "backup": "Backups",
}

ACTIONS = {
    "auth.login": "Logged in",
    "auth.login_failed": "Failed to log in",
    "auth.lockout": "Logins paused after failures",
    "auth.password_ok": "Password accepted, code next",
    "auth.2fa_verified": "Two-factor code accepted",
    "auth.2fa_failed": "Wrong two-factor code",
    "auth.password_reset": "Asked for a password reset",
    "account.password_changed": "Changed the password",
    "account.2fa_enabled": "Turned two-factor on",
    "account.2fa_disabled": "Turned two-factor off",
    "account.recovery_codes_regenerated": "Made new recovery codes",
    "api_key.created": "Created an API key",
    "api_key.revoked": "Revoked an API key",
    "job.enqueued": "Queued a job",
    "job.retried": "Re-ran a job",
    "job.cancelled": "Cancelled a job",
    "console.command": "Sent a console command",
    "settings.updated": "Changed the settings",
    "settings.auto_restart": "Switched automatic restarts",
    "settings.update_policy": "Set the update policy",
    "rcon.revealed": "Revealed the RCON password",
    "rcon.rotated": "Rotated the RCON password",
    "schedule.created": "Created a schedule",
    "schedule.updated": "Changed a schedule",
    "schedule.enabled": "Enabled a schedule",
    "schedule.disabled": "Disabled a schedule",
    "schedule.deleted": "Deleted a schedule",
    "schedule.run": "Ran a schedule now",
    "webhook.created": "Created a webhook",
    "webhook.updated": "Changed a webhook",
    "webhook.tested": "Sent a webhook test",
    "webhook.deleted": "Deleted a webhook",
    "member.added": "Added a member",
    "member.updated": "Changed a member's permissions",
    "member.removed": "Removed a member",
    "member.left": "Left the server",
    "invite.created": "Created an invite link",
    "invite.revoked": "Revoked an invite link",
    "invite.accepted": "Joined through an invite link",
    "server.autorestart_paused": "Paused automatic restarts after repeated crashes",
    "addon.installed": "Installed an addon",
    "addon.updated": "Updated an addon",
    "addon.removed": "Removed an addon",
    "plugin.enabled": "Enabled a plugin",
    "plugin.disabled": "Disabled a plugin",
    "plugin.uploaded": "Uploaded a plugin",
    "plugin.deleted": "Deleted a plugin",
    "admins.updated": "Changed the SourceMod admins",
    "workshop.added": "Added Workshop items",
    "workshop.updated": "Updated Workshop items",
    "workshop.removed": "Removed a Workshop item",
    "file.written": "Saved a file",
    "file.uploaded": "Uploaded a file",
    "file.renamed": "Renamed a file",
    "file.deleted": "Deleted files",
    "folder.created": "Created a folder",
    "backup.created": "Started a backup",
    "backup.restored": "Restored a backup",
    "backup.deleted": "Deleted a backup",
    "backup.locked": "Locked a backup",
    "backup.unlocked": "Unlocked a backup",
    "backup.downloaded": "Downloaded a backup",
    "backup.settings": "Changed the backup settings",
}


def words(action):
    return ACTIONS.get(action, action)


def choices():
    """The action filter's choices: per group, all of it ("job.") then each action, as optgroups."""
    grouped = {}
    for action, label in ACTIONS.items():
        grouped.setdefault(action.split(".")[0], []).append((action, label))
    return [
        (GROUPS.get(prefix, prefix), [(f"{prefix}.", f"All: {GROUPS.get(prefix, prefix).lower()}"), *actions])
        for prefix, actions in grouped.items()
    ]


def _job(d):
    text = f"{str(d.get('kind', '')).capitalize()} · job #{d.get('job')}"
    if d.get("rerun_of"):
        text += f", a re-run of job #{d['rerun_of']}"
    if d.get("was"):
        text += f" (it was {d['was']})"
    if d.get("schedule"):
        text += f", schedule “{d['schedule']}”"
    if d.get("reason"):
        text += f", {d['reason']}"
    return text


def _fields(d):
    # Values only for the fields whose values were kept (never a password's, nor a file's).
    values = d.get("values", {})
    return ", ".join(f"{name} = {values[name]}" if name in values else name for name in d.get("fields", []))


def _named(key):
    return lambda d: "“{}”{}".format(d.get(key, ""), f" ({_fields(d)})" if d.get("fields") else "")


def _member(d):
    parts = [d.get("user", "")]
    parts += [f"+{name}" for name in d.get("added", [])]
    parts += [f"−{name}" for name in d.get("removed", [])]
    return " ".join(filter(None, parts))


SUMMARIES = {
    "job": _job,
    "console.command": lambda d: (
        d.get("command", "") + (f" (schedule “{d['schedule']}”)" if d.get("schedule") else "")
    ),
    "settings.updated": _fields,
    "settings.auto_restart": lambda d: d.get("auto_restart", ""),
    "settings.update_policy": lambda d: d.get("update_policy", ""),
    "schedule": _named("name"),
    "webhook": _named("name"),
    "member": _member,
    "auth": lambda d: d.get("username", ""),
    "addon": lambda d: ", ".join(d.get("mods", [])) + (f" · job #{d['job']}" if d.get("job") else ""),
    "plugin": lambda d: d.get("plugin", ""),
    "admins.updated": lambda d: f"{d.get('admins', 0)} admin{'' if d.get('admins') == 1 else 's'}",
    "workshop": lambda d: (
        ", ".join(
            filter(
                None, [", ".join(d.get("items", [])), d.get("collection") and f"collection {d['collection']}"]
            )
        )
        + (f" · job #{d['job']}" if d.get("job") else "")
    ),
    "file.renamed": lambda d: f"{d.get('from', '')} → {d.get('to', '')}",
    "file.deleted": lambda d: ", ".join(d.get("paths", [])),
    "file": lambda d: d.get("path", "") + (f" ({d['size']} bytes)" if "size" in d else ""),
    "folder": lambda d: d.get("path", ""),
    "backup": lambda d: " ".join(
        filter(
            None,
            [
                d.get("name", ""),
                f"· job #{d['job']}" if d.get("job") else "",
                "· truncate" if d.get("truncate") else "",
                f"· {', '.join(d['paths'])}" if d.get("paths") else "",
            ],
        )
    ),
    "backup.settings": _fields,
}


def summary(action, detail):
    """The detail as one line of text (shown with textContent in live rows)."""
    detail = detail if isinstance(detail, dict) else {}
    prefix = action.split(".")[0]
    format_ = SUMMARIES.get(action) or SUMMARIES.get(prefix)
    if format_ is not None:
        return str(format_(detail))
    # Anything else: its keys and values, as stored (they never hold a secret).
    return ", ".join(f"{key}: {value}" for key, value in detail.items() if key != "server_name")
