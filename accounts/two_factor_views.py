"""/account/two-factor: turn two-factor login on (confirmed by a code), make new recovery
codes, turn it off (with a code)."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

import activity

from . import two_factor
from .auth_events import login_complete
from .forms import CodeForm
from .views import next_url


def _page(request, form=None, status=200, failed=""):
    user = request.user
    device = two_factor.totp_device(user)
    pending = None if device else two_factor.totp_device(user, confirmed=False)
    context = {
        "section": "two_factor",
        "device": device,
        "pending": pending,
        "form": form or CodeForm(),
        "failed": failed,  # which form the error belongs to: "recovery_codes" or "disable"
        "recovery_codes_left": two_factor.recovery_codes_left(user),
        "two_factor_required": two_factor.required_for(user),
        # This session may go nowhere else until it is set up (L4D2_2FA_REQUIRED).
        "setup_owed": two_factor.owed_step(request.session, user) == two_factor.SETUP
        and not user.is_verified(),
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    if pending:
        context["qr"] = two_factor.qr_data_uri(pending)
        context["key"] = two_factor.key_groups(pending)
    return render(request, "accounts/two_factor.html", context, status=status)


def _back(request):
    """The two-factor page again, still carrying where the login was going."""
    return two_factor.step_url(two_factor.SETUP, request.POST.get("next", ""))


@login_required
def page(request):
    return _page(request)


@require_POST
@login_required
def setup(request):
    if two_factor.totp_device(request.user) is not None:
        messages.warning(request, "Two-factor login is on already. Turn it off first to use another app.")
    else:
        two_factor.start_setup(request.user)
    return redirect(_back(request))


@require_POST
@login_required
def confirm(request):
    user = request.user
    pending = two_factor.totp_device(user, confirmed=False)
    if pending is None:
        return redirect(_back(request))
    form = CodeForm(request.POST)
    if form.is_valid():
        codes = two_factor.confirm_setup(user, pending, form.cleaned_data["code"])
        if codes is not None:
            owed = request.session.get(two_factor.STATE_KEY) == two_factor.SETUP
            otp_login(request, pending)
            request.session.cycle_key()
            request.session[two_factor.STATE_KEY] = two_factor.CODE
            activity.record("account.2fa_enabled", request=request)
            if owed:  # the login this session began is complete only now
                login_complete(request, user, two_factor="setup")
            return _codes(request, codes, first=True)
        form.add_error("code", "That code is not right. Type the six digits the app shows now.")
    return _page(request, form, status=400)


def _codes(request, codes, first=False):
    return render(
        request,
        "accounts/recovery_codes.html",
        {
            "section": "two_factor",
            "codes": [two_factor.shown(code) for code in codes],
            "first": first,
            "next": next_url(request) if request.POST.get("next") else "",
        },
    )


def _checked(request, purpose):
    """(device, response): the device a valid code came from, else the answer to give."""
    form = CodeForm(request.POST)
    if not form.is_valid():
        return None, _page(request, form, status=400, failed=purpose)
    try:
        device = two_factor.check_code(request, request.user, form.cleaned_data["code"], purpose=purpose)
    except two_factor.CodesPaused:
        # Wrong codes here count like wrong codes at login: enough of them end the session.
        user = request.user
        logout(request)
        return None, two_factor.paused_response(request, user)
    if device is None:
        form.add_error("code", "That code is not right.")
        return None, _page(request, form, status=400, failed=purpose)
    return device, None


@require_POST
@login_required
def recovery_codes(request):
    if two_factor.totp_device(request.user) is None:
        return redirect("account_two_factor")
    device, response = _checked(request, "recovery_codes")
    if response:
        return response
    codes = two_factor.new_recovery_codes(request.user)
    activity.record("account.recovery_codes_regenerated", request=request)
    return _codes(request, codes)


@require_POST
@login_required
def disable(request):
    if two_factor.totp_device(request.user) is None:
        return redirect("account_two_factor")
    device, response = _checked(request, "disable")
    if response:
        return response
    two_factor.turn_off(request.user)
    # This session carries on as logged in (it was, code included); where the panel
    # requires two-factor, the gate now sends it to set up a new one.
    request.session[two_factor.STATE_KEY] = two_factor.NONE
    activity.record("account.2fa_disabled", request=request, detail={"method": two_factor.method_of(device)})
    messages.success(request, "Two-factor login is off. Your recovery codes no longer work.")
    return redirect("account_two_factor")
