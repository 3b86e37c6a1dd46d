"""/account/api-keys: create a key (shown once), see each key's scope and last use, revoke."""

import ipaddress
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

import activity
from servers import permissions
from servers.access import permissions_of
from servers.models import Server

from .models import ApiKey

EXPIRY_CHOICES = [
    ("", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


def held_anywhere(user):
    """Every permission the user holds on some server (staff and owners: all): what a key may ask for."""
    held = set()
    for server in Server.objects.visible_to(user):
        held |= permissions_of(user, server)
    return held | (permissions.ALL if user.is_staff else set())


class KeyForm(forms.Form):
    name = forms.CharField(max_length=64, help_text="What it is for, e.g. “discord-bot”.")
    permissions = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, required=True)
    servers = forms.ModelMultipleChoiceField(
        queryset=Server.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every server you may see, now and later.",
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False)
    allowed_ips = forms.CharField(
        required=False,
        label="Allowed addresses",
        help_text="Addresses or networks, comma-separated (203.0.113.7, 2001:db8::/48). Empty: any.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        held = held_anywhere(user)
        # A key never holds more than its user: only what you hold is offered.
        self.fields["permissions"].choices = [
            (name, f"{perm.label} ({name})") for name, perm in permissions.PERMISSIONS.items() if name in held
        ]
        self.fields["servers"].queryset = Server.objects.visible_to(user).order_by("name")

    def clean_allowed_ips(self):
        networks = [part.strip() for part in self.cleaned_data["allowed_ips"].split(",") if part.strip()]
        for network in networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise forms.ValidationError(f"“{network}” is not an address or a network.") from None
        return networks


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
def keys(request):
    form = KeyForm(request.POST if request.method == "POST" else None, user=request.user)
    secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        days = int(data["expires"]) if data["expires"] else None
        key, secret = ApiKey.new(
            request.user,
            data["name"],
            data["permissions"],
            data["servers"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            allowed_ips=data["allowed_ips"],
        )
        activity.record("api_key.created", request=request, detail={"key": key.lookup, "name": key.name})
        form = KeyForm(user=request.user)
    context = {
        "form": form,
        "secret": secret,
        "keys": request.user.api_keys.live().prefetch_related("servers"),
        "section": "api_keys",
    }
    return render(request, "api/keys.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def revoke(request, key_id):
    revoked = request.user.api_keys.live().filter(pk=key_id).update(revoked_at=timezone.now())
    if revoked:
        activity.record("api_key.revoked", request=request, detail={"key": key_id})
        messages.success(request, "API key revoked: it works nowhere any more.")
    return redirect("api_keys")
