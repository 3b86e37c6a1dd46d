from django import forms

from hostctl.archive import ignore_spec
from servers.models import Server


class BackupSettingsForm(forms.ModelForm):
    class Meta:
        model = Server
        fields = ["backup_limit", "backup_ignore"]
        widgets = {"backup_ignore": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})}
        labels = {"backup_limit": "Backups kept", "backup_ignore": "Also leave out"}

    def clean_backup_ignore(self):
        """Each line must be a gitignore pattern the backup job can use (else it would fail later)."""
        text = self.cleaned_data["backup_ignore"]
        for number, line in enumerate(text.splitlines(), 1):
            try:
                ignore_spec([line])
            except Exception as exc:  # pathspec raises its own errors and re's
                raise forms.ValidationError(
                    f"Line {number}, “{line}”, is not a gitignore pattern ({exc})."
                ) from None
        return text
