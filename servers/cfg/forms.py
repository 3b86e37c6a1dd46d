from django import forms
from django.db import transaction

import activity

from ..models import Server


class ServerSettingsForm(forms.ModelForm):
    """The everyday cvars and the extra cfg; each field is checked by hostctl's rule for it."""

    # Named but never valued in the activity log: a password, and a file body (extra cfg
    # lines may hold any plugin's password).
    HIDDEN = ("sv_password", "extra_cfg")

    def save_and_record(self, request):
        """Save (the form is valid), and record what changed as `settings.updated`, together."""
        with transaction.atomic():
            server = self.save()
            if self.has_changed():
                detail = activity.changes(self, hidden=self.HIDDEN)
                activity.record("settings.updated", request=request, server=server, detail=detail)
        return server

    class Meta:
        model = Server
        fields = [
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
            "sv_password": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            "extra_cfg": forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
        }
