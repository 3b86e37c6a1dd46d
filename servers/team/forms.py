"""The permission boxes, grouped the way people think, with presets that tick them."""

from django import forms

from .. import permissions

PRESET_CHOICES = [("", "Custom (tick below)")] + [
    (key, label) for key, (label, _) in permissions.PRESETS.items()
]


class PermissionsForm(forms.Form):
    preset = forms.ChoiceField(choices=PRESET_CHOICES, required=False)
    permissions = forms.MultipleChoiceField(
        choices=[(name, perm.label) for name, perm in permissions.PERMISSIONS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def names(self):
        """The permissions asked for: the preset's, or the ticked ones."""
        preset = self.cleaned_data.get("preset")
        if preset:
            return sorted(permissions.PRESETS[preset][1])
        return self.cleaned_data["permissions"]


class AddMemberForm(PermissionsForm):
    username = forms.CharField(max_length=150, label="User name")


def grouped(selected, held):
    """The boxes by group for a template: (group, [(permission, ticked, may change)])."""
    selected = set(selected)
    return [
        (group, [(perm, perm.name in selected, perm.name in held) for perm in perms])
        for group, perms in permissions.GROUPS
    ]
