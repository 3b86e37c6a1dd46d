"""A server's Workshop items, as the panel knows them (the files are on the game host)."""

from datetime import UTC, datetime

from django.db import models

from servers.models import Server


class WorkshopState(models.TextChoices):
    QUEUED = "queued", "Queued"
    "Asked for; its job has not installed it yet."
    INSTALLED = "installed", "Installed"
    "left4dead2/addons/<id>.vpk is in place."
    FAILED = "failed", "Failed"
    "Its last job could not install it (`error` says why)."


class WorkshopItem(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="workshop_items")
    item_id = models.CharField(max_length=20)  # Steam's publishedfileid, digits
    title = models.CharField(max_length=200, blank=True, default="")
    size = models.BigIntegerField(default=0)  # bytes, as Steam gives it
    time_updated = models.BigIntegerField(default=0)  # Steam's update time (Unix seconds) when installed
    maps = models.JSONField(default=list, blank=True)  # every maps/*.bsp of its VPK
    campaigns = models.JSONField(default=list, blank=True)  # [{"title", "maps": [...]}] from missions/*.txt
    state = models.CharField(max_length=16, choices=WorkshopState.choices, default=WorkshopState.QUEUED)
    error = models.CharField(max_length=300, blank=True, default="")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)
    installed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["server", "item_id"], name="one_workshop_item_per_server")
        ]

    def __str__(self):
        return self.title or f"Workshop item {self.item_id}"

    @property
    def stalled(self):
        """Asked for, but its job ended (cancelled, failed early, pruned) before getting to it."""
        return self.state == WorkshopState.QUEUED and (self.job is None or self.job.is_finished)

    @property
    def updated_on_steam(self):
        return datetime.fromtimestamp(self.time_updated, UTC) if self.time_updated else None

    @property
    def steam_url(self):
        return f"https://steamcommunity.com/sharedfiles/filedetails/?id={self.item_id}"
