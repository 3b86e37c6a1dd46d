from django import forms


class CodeForm(forms.Form):
    """One code: six digits from the authenticator app, or a recovery code."""

    code = forms.CharField(max_length=32, strip=True)
