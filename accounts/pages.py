"""/account/: the overview, the password and your own activity."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render

import activity
from activity.models import Event
from l4d2site.pagination import keyset_page

from . import two_factor

# Words for the actions a person meets on their own activity page; others show as named.
ACTION_LABELS = {
    "auth.login": "Logged in",
    "auth.login_failed": "Failed login",
    "auth.lockout": "Logins paused",
    "auth.password_ok": "Password accepted, code next",
    "auth.2fa_verified": "Two-factor code accepted",
    "auth.2fa_failed": "Wrong two-factor code",
    "auth.password_reset": "Password reset asked for",
    "account.password_changed": "Password changed",
    "account.2fa_enabled": "Two-factor turned on",
    "account.2fa_disabled": "Two-factor turned off",
    "account.recovery_codes_regenerated": "New recovery codes",
}
ACTIVITY_PER_PAGE = 50


def two_factor_status(user):
    return {
        "two_factor_on": two_factor.totp_device(user) is not None,
        "recovery_codes_left": two_factor.recovery_codes_left(user),
        "two_factor_required": two_factor.required_for(user),
    }


@login_required
def overview(request):
    return render(
        request, "accounts/overview.html", {"section": "overview", **two_factor_status(request.user)}
    )


@login_required
def password(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # This session goes on; every other session of the account ends (its hash is stale).
        update_session_auth_hash(request, user)
        activity.record("account.password_changed", request=request)
        messages.success(request, "Your password is changed. Your other sessions are logged out.")
        return redirect("account")
    return render(request, "accounts/password.html", {"section": "password", "form": form})


@login_required
def activity_page(request):
    """Your own events (DESIGN.md §11), newest first, by keyset like the job lists."""
    mine = Event.objects.filter(actor=request.user)
    actions = list(mine.order_by("action").values_list("action", flat=True).distinct())
    action = request.GET.get("action", "")
    events = mine.select_related("server")
    if action:
        events = events.filter(action=action)
    page = keyset_page(events, request.GET, per_page=ACTIVITY_PER_PAGE)
    rows = [(event, ACTION_LABELS.get(event.action, event.action), _detail(event)) for event in page.jobs]
    return render(
        request,
        "accounts/activity.html",
        {
            "section": "activity",
            "page": page,
            "rows": rows,
            "action": action,
            "actions": [(name, ACTION_LABELS.get(name, name)) for name in actions],
        },
    )


def _detail(event):
    """The event's detail in words: `key: value`, the server's name left to its column."""
    return ", ".join(f"{key}: {value}" for key, value in event.detail.items() if key != "server_name")
