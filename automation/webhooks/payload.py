"""What a webhook receives: DESIGN.md §9's JSON body, or Discord's message format made from it."""

import json

from django.conf import settings
from django.utils import timezone

from ..models import WebhookEvent
from ..models.webhooks import TEST_EVENT

USER_AGENT = "l4d2-panel-webhooks/1"
DISCORD_CONTENT_MAX = 2000
DISCORD_TITLE_MAX = 256
COLOURS = {  # Discord embed colours: red for bad news, green for good, amber for "look at this"
    WebhookEvent.JOB_FAILED: 0xCF222E,
    WebhookEvent.SERVER_CRASHED: 0xCF222E,
    WebhookEvent.SERVER_AUTORESTART_PAUSED: 0xCF222E,
    WebhookEvent.JOB_SUCCEEDED: 0x1A7F37,
    WebhookEvent.SERVER_UPDATE_AVAILABLE: 0x9A6700,
}


def absolute(path):
    return f"{settings.PANEL_URL}{path}"


def body(event, server, text, job=None):
    """The JSON body: `event`, `server`, `job` (id, kind, state, url; null if none), `text`, `at`."""
    return {
        "event": event,
        "server": {"id": server.id, "name": server.name, "url": absolute(server.get_absolute_url())},
        "job": (
            {"id": job.id, "kind": job.kind, "state": job.state, "url": absolute(job.get_absolute_url())}
            if job is not None
            else None
        ),
        "text": text,
        "at": _now(),
    }


def _now():
    return timezone.now().isoformat()


def test_body(webhook):
    server = webhook.server
    where = f"for {server.name}" if server else "for every server"
    text = f"Test message from the L4D2 host panel: webhook “{webhook}” {where} works."
    if server is None:
        return {"event": TEST_EVENT, "server": None, "job": None, "text": text, "at": _now()}
    return body(TEST_EVENT, server, text)


def discord(payload):
    """Discord's execute-webhook body: the sentence as content, details in an embed.

    Mentions are switched off: a server name like "@everyone" must not ping a whole guild.
    """
    labels = dict(WebhookEvent.choices)
    server, job = payload.get("server"), payload.get("job")
    label = labels.get(payload["event"], "Test")
    title = f"{server['name']}: {label}" if server else label
    embed = {
        "title": title[:DISCORD_TITLE_MAX],
        "description": payload["text"][:4096],
        "color": COLOURS.get(payload["event"], 0x1F6FEB),
        "timestamp": payload["at"],
    }
    if job:
        embed["url"] = job["url"]
        embed["fields"] = [
            {"name": "Job", "value": f"#{job['id']} {job['kind']}", "inline": True},
            {"name": "State", "value": job["state"], "inline": True},
        ]
    elif server:
        embed["url"] = server["url"]
    return {
        "username": "L4D2 host panel",
        "content": payload["text"][:DISCORD_CONTENT_MAX],
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def encode(webhook, payload):
    """(bytes, headers) to POST to `webhook`."""
    data = discord(payload) if webhook.is_discord else payload
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-L4D2-Event": payload["event"],
    }
    return json.dumps(data, ensure_ascii=False).encode(), headers
