"""The two steps of logging in: the password (Django's LoginView) and the code."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

import activity

from . import two_factor
from .auth_events import login_complete
from .forms import CodeForm


class LoginView(auth_views.LoginView):
    def get_context_data(self, **kwargs):
        # The "Forgot your password?" link, only where a reset can send its mail.
        return super().get_context_data(password_reset=settings.PASSWORD_RESET_ENABLED, **kwargs)

    def get_success_url(self):
        # Straight on to the step the session still owes, carrying where it was going.
        step = two_factor.owed_step(self.request.session, self.request.user)
        if step:
            return two_factor.step_url(step, super().get_success_url())
        return super().get_success_url()


def next_url(request):
    url = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure())
    return url if safe else settings.LOGIN_REDIRECT_URL


@login_required
def login_code(request):
    """The code step: a code from the authenticator app, or one recovery code."""
    user = request.user
    if two_factor.owed_step(request.session, user) != two_factor.CODE or user.is_verified():
        return redirect(next_url(request))
    if two_factor.totp_device(user) is None and two_factor.recovery_device(user) is None:
        # Its devices were deleted since the password step (staff, for a lost phone).
        request.session[two_factor.STATE_KEY] = two_factor.NONE
        return redirect(next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.check_code(request, user, form.cleaned_data["code"], purpose="login")
        except two_factor.CodesPaused:
            # Paused like a wrong password: start again, from the password, once it lifts.
            logout(request)
            return two_factor.paused_response(request, user)
        if device is not None:
            return _verified(request, user, device)
        form.add_error("code", "That code is not right. Try the one your app shows now.")
    return render(request, "registration/login_code.html", {"form": form, "next": next_url(request)})


def _verified(request, user, device):
    otp_login(request, device)
    # More rights, new session key: a session id seen before the code is worth nothing.
    request.session.cycle_key()
    method = two_factor.method_of(device)
    detail = {"username": user.get_username(), "method": method}
    if method == "recovery_code":
        detail["recovery_codes_left"] = two_factor.recovery_codes_left(user)
    activity.record("auth.2fa_verified", actor=user, request=request, detail=detail)
    login_complete(request, user, two_factor=method)
    if method == "recovery_code":
        left = detail["recovery_codes_left"]
        messages.warning(
            request,
            f"You logged in with a recovery code; {left} left. "
            "Make new ones on your two-factor page if you are running out.",
        )
    return redirect(next_url(request))
