from django import forms

from servers.models import Server


class BackupSettingsForm(forms.ModelForm):
    class Meta:
        model = Server
        fields = ["backup_limit", "backup_ignore"]
        widgets = {"backup_ignore": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})}
        labels = {"backup_limit": "Backups kept", "backup_ignore": "Also leave out"}
