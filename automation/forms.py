"""Forms for schedules, webhooks and a server's update policy."""

from django import forms
from django.conf import settings

from servers.access import servers_with_perm
from servers.models import Server

from .models import Schedule, Webhook, WebhookEvent
from .validators import place_zones, time_zones


class ScheduleForm(forms.ModelForm):
    # Typed with suggestions (a datalist of place_zones(), static/js/schedules.js); a new
    # schedule starts in the browser's zone.
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="A place, e.g. Europe/Berlin or America/New_York (daylight saving included), or UTC.",
        widget=forms.TextInput(
            attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false", "class": "tz"}
        ),
    )

    class Meta:
        model = Schedule
        fields = ["name", "action", "command", "cron", "timezone", "enabled"]
        widgets = {"cron": forms.TextInput(attrs={"placeholder": "0 5 * * *", "spellcheck": "false"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone"].initial = settings.TIME_ZONE  # the panel's own zone, UTC unless set

    def clean_timezone(self):
        zone = self.cleaned_data["timezone"].strip()
        # A zone saved before the list was narrowed stays as it is (kept, not lost).
        if zone in place_zones() or (zone == self.instance.timezone and zone in time_zones()):
            return zone
        raise forms.ValidationError(
            f"“{zone}” is not a time zone of a place: pick one from the list (e.g. Europe/Berlin) or UTC."
        )

    def clean_cron(self):
        # "0  5 * * *" and "0 5 * * *" are one schedule: keep the tidy spelling.
        return " ".join(self.cleaned_data["cron"].split())

    def save(self, commit=True):
        schedule = super().save(commit=False)
        schedule.reschedule()
        if commit:
            schedule.save()
        return schedule


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[WebhookEvent.JOB_FAILED, WebhookEvent.SERVER_CRASHED],
    )

    class Meta:
        model = Webhook
        fields = ["name", "server", "url", "events", "enabled"]
        widgets = {"url": forms.URLInput(attrs={"placeholder": "https://discord.com/api/webhooks/…"})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        server = self.fields["server"]
        server.queryset = servers_with_perm(user, "webhooks.update").order_by("name", "id")
        # Only staff may hear every server; an owner's webhook belongs to one of theirs.
        server.required = not user.is_staff
        server.empty_label = "All servers" if user.is_staff else None
        if not user.is_staff:
            server.help_text = "The server whose events it hears."  # "every server" is staff's alone


class UpdatePolicyForm(forms.ModelForm):
    class Meta:
        model = Server
        fields = ["update_policy"]
