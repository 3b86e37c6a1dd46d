"""Logins, failed logins and lockouts: recorded as activity events, and a success
forgives only its own failures (accounts/throttle.py explains the scheme).

A login is complete (`auth.login`) once the session owes no second factor: at the password
step for a user without two-factor, at the code step (accounts/two_factor.py) otherwise.
"""

from axes.signals import user_locked_out
from axes.utils import reset as reset_failed_logins
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

import activity
from activity.models import Event
from l4d2site.client_ip import client_ip

from . import two_factor


@receiver(user_logged_in, dispatch_uid="accounts.login")
def logged_in(sender, request, user, **kwargs):
    if request is not None:
        step = two_factor.begin(request.session, user)
        if step != two_factor.NONE:
            # The password was right, the login is not done: no auth.login (which would make
            # this address one the owner uses) and nothing forgiven until the code step.
            activity.record(
                "auth.password_ok",
                actor=user,
                ip=client_ip(request),
                detail={"username": user.get_username(), "next": step},
            )
            return
    login_complete(request, user)


def login_complete(request, user, **detail):
    """The session is logged in all the way (password, and the code where one is owed)."""
    ip = client_ip(request) if request is not None else None
    activity.record("auth.login", actor=user, ip=ip, detail={"username": user.get_username(), **detail})
    if ip is not None:
        # This pair only: bob's login must not wipe the guesses at alice from this address,
        # nor alice's login the guesses at alice from elsewhere. (Without an address, e.g.
        # a test's force_login, there is no pair to forgive.)
        reset_failed_logins(ip=ip, username=user.get_username())


@receiver(user_login_failed, dispatch_uid="accounts.login_failed")
def failed(sender, credentials, request=None, **kwargs):
    if sender == two_factor.CODE_SENDER:
        return  # a wrong code: two_factor.check_code recorded it as auth.2fa_failed
    # Django has already masked the password in `credentials`; only the name is kept.
    username = credentials.get(get_user_model().USERNAME_FIELD)
    activity.record(
        "auth.login_failed",
        actor=_account(username),
        ip=client_ip(request) if request is not None else None,
        detail={"username": username},
    )


@receiver(user_locked_out, dispatch_uid="accounts.lockout")
def locked_out(sender, request, username, ip_address, **kwargs):
    # axes says so again at every failure while the lock lasts; one event per lock is
    # enough (each attempt has its auth.login_failed already).
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    already = Event.objects.filter(
        action="auth.lockout", ip=ip_address, at__gte=since, detail__username=username
    )
    if not already.exists():
        activity.record(
            "auth.lockout", actor=_account(username), ip=ip_address, detail={"username": username}
        )


def _account(username):
    if not username:
        return None
    return get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username}).first()
