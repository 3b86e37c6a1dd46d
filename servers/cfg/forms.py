from django import forms
from django.db import transaction

import activity

from .. import applied, maps
from ..models import Server


class ServerSettingsForm(forms.ModelForm):
    """The everyday cvars and the extra cfg; each field is checked by hostctl's rule for it."""

    # Named but never valued in the activity log: a password, and a file body (extra cfg
    # lines may hold any plugin's password).
    HIDDEN = ("sv_password", "extra_cfg")

    map = forms.ChoiceField(
        label="Map",
        help_text="The map it starts on. A map changed in the game is kept across restarts "
        "until this setting changes.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["map"].choices = self.map_choices()

    def map_choices(self):
        """The installed maps; a configured map no longer among them stays choosable (kept, not lost)."""
        choices = maps.map_choices(self.instance)
        current = self.instance.map
        if current and current not in maps.map_names(choices):
            choices.insert(0, ("Configured now", [(current, current)]))
        return choices

    def save_and_record(self, request):
        """Save (the form is valid), and record what changed as `settings.updated`, together."""
        if "map" in self.changed_data:
            applied.mark_map_changed(self.instance)
        with transaction.atomic():
            server = self.save(commit=False)
            # Only what the form holds: the supervisor writes the live fields of the same row meanwhile.
            server.save(update_fields=[*self.Meta.fields, "map_changed_at", "updated_at"])
            if self.has_changed():
                detail = activity.changes(self, hidden=self.HIDDEN)
                activity.record("settings.updated", request=request, server=server, detail=detail)
        return server

    class Meta:
        model = Server
        fields = [
            "name",
            "map",
            "max_players",
            "sv_password",
            "mp_gamemode",
            "z_difficulty",
            "sv_region",
            "sv_tags",
            "sv_steamgroup",
            "sv_steamgroup_exclusive",
            "sv_allow_lobby_connect_only",
            "motd_enabled",
            "extra_cfg",
        ]
        widgets = {
            "max_players": forms.NumberInput(attrs={"min": 1, "max": 32}),
            "sv_password": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "extra_cfg": forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
        }
