"""Two-factor login: which step a session still owes, and checking a code.

Logging in is two steps. The password step (accounts.views.LoginView, throttled by axes)
logs the user in as Django always did; django-otp's OTPMiddleware then tells whether the
session also passed a second factor (`request.user.is_verified()`). A session that owes a
step reaches nothing else (accounts/middleware.py: the gate for pages, and its WebSocket
twin under Channels' AuthMiddlewareStack):

- CODE: the user has a confirmed device; the code step (/accounts/login/code/) takes a
  TOTP code or one of their recovery codes.
- SETUP: L4D2_2FA_REQUIRED asks two-factor of this user, who has none yet; only the
  two-factor page (/account/two-factor) is open, to set it up.

Which step a session owes is decided when its password step logs it in and kept in the
session, so a user without two-factor costs no query per request.

Wrong codes count against the login throttle (axes, with the scheme of
accounts/throttle.py): the code step sends Django's `user_login_failed` for the account,
so ten wrong passwords or codes pause that user name exactly as ten wrong passwords do,
and an address the owner has logged in from (fully, code included) stays open to them.
django-otp's own per-device back-off is off (settings): it never forgets and knows no
addresses, so whoever has the password could lock the owner's authenticator for days.
"""

import re
from base64 import b32encode

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import QueryDict
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device, verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

import activity

STATE_KEY = "accounts.second_factor"
NONE, CODE, SETUP = "none", "code", "setup"
# The `sender` of user_login_failed for a wrong code: accounts/auth_events.py records
# those as auth.2fa_failed (here), not as auth.login_failed.
CODE_SENDER = "accounts.two_factor"
RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


class CodesPaused(Exception):
    """The login throttle holds this account (or address): no code is looked at."""


def required_for(user):
    """Whether L4D2_2FA_REQUIRED asks two-factor of this user."""
    policy = settings.TWO_FACTOR_REQUIRED
    return policy == "all" or (policy == "staff" and user.is_staff)


def begin(session, user):
    """The password step just logged `user` in: note which step the session owes next.

    Returns CODE, SETUP or NONE (nothing owed: the login is complete).
    """
    if user_has_device(user):
        state = CODE
    elif required_for(user):
        state = SETUP
    else:
        state = NONE
    session[STATE_KEY] = state
    return state


def owed_step(session, user):
    """The step this session owes unless it is verified (CODE, SETUP), or None.

    The caller checks verification only when a step is owed: that costs a query
    (loading the device the session was verified with), everything here costs none
    for a user without two-factor.
    """
    if not user.is_authenticated:
        return None
    state = session.get(STATE_KEY)
    if state is None:  # a session from before two-factor existed here
        state = CODE if user_has_device(user) else NONE
        session[STATE_KEY] = state
    if state == CODE:
        return CODE
    if required_for(user):
        # Set up meanwhile in another session (or the policy changed since this login).
        if user_has_device(user):
            session[STATE_KEY] = CODE
            return CODE
        return SETUP
    return None


def session_verified(session, user):
    """What OTPMiddleware's `is_verified()` says, for a session read outside a request."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is not None and device.user_id == user.pk and device.confirmed


def session_may_pass(session, user):
    """Whether this session (of `user`) is logged in all the way: for WebSockets."""
    return owed_step(session, user) is None or session_verified(session, user)


def step_url(step, next_url=""):
    path = reverse("login_code") if step == CODE else reverse("account_two_factor")
    if not next_url:
        return path
    query = QueryDict(mutable=True)
    query["next"] = next_url
    return f"{path}?{query.urlencode()}"


def open_paths(step):
    """The paths a session that owes `step` may still reach."""
    if step == CODE:
        names = ["login_code", "logout"]
    else:
        names = ["account_two_factor", "account_two_factor_setup", "account_two_factor_confirm", "logout"]
    return {reverse(name) for name in names}


# --- codes -------------------------------------------------------------------------------


def normalize(code):
    """A code as typed ("123 456", "ABCD-EFGH") as stored ("123456", "abcdefgh")."""
    return re.sub(r"[\s-]", "", code or "").lower()


def is_totp_shaped(code):
    return len(code) == 6 and code.isascii() and code.isdigit()


def totp_device(user, confirmed=True):
    return TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).first()


def recovery_device(user):
    return StaticDevice.objects.devices_for_user(user).first()


def recovery_codes_left(user):
    device = recovery_device(user)
    return device.token_set.count() if device else 0


def _credentials(user):
    return {get_user_model().USERNAME_FIELD: user.get_username()}


def check_code(request, user, code, purpose):
    """The device that accepts `code` (a TOTP code, or one recovery code, used up), or None.

    One device is asked, chosen by the code's shape (six digits: the authenticator), so a
    wrong code is one failure, not one per device. A wrong code is an `auth.2fa_failed`
    event and a failed login for axes. Raises CodesPaused, before looking at the code, while
    the throttle holds the account or address, and after the failure that makes it so.
    """
    credentials = _credentials(user)
    if not AxesProxyHandler.is_allowed(request, credentials):
        raise CodesPaused
    code = normalize(code)
    method = "totp" if is_totp_shaped(code) else "recovery_code"
    device = totp_device(user) if method == "totp" else recovery_device(user)
    # verify_token locks the device's row: a recovery code or a TOTP step is used once,
    # even by two requests at the same moment.
    if device is not None and code and verify_token(user, device.persistent_id, code):
        return device
    activity.record(
        "auth.2fa_failed",
        actor=user,
        request=request,
        detail={"username": user.get_username(), "method": method, "purpose": purpose},
    )
    user_login_failed.send(sender=CODE_SENDER, credentials=credentials, request=request)
    if not AxesProxyHandler.is_allowed(request, credentials):
        raise CodesPaused
    return None


def paused_response(request, user):
    """The login throttle's own page (429), as a wrong password gets it."""
    return get_lockout_response(request, None, _credentials(user))


def method_of(device):
    return "recovery_code" if isinstance(device, StaticDevice) else "totp"


# --- setting it up -----------------------------------------------------------------------


def start_setup(user):
    """A new, unconfirmed authenticator key for `user` (replacing an unconfirmed one)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def confirm_setup(user, device, code):
    """Turn the unconfirmed `device` on if `code` is its current code; returns the new
    recovery codes, or None for a wrong code (the device stays off)."""
    if not verify_token(user, device.persistent_id, normalize(code)):
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        return new_recovery_codes(user)


def new_recovery_codes(user):
    """RECOVERY_CODES fresh one-use codes for `user`; the old ones stop working."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
        codes = set()
        while len(codes) < RECOVERY_CODES:
            codes.add(StaticToken.random_token())  # 8 base32 letters: 40 random bits
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


def turn_off(user):
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def shown(code):
    """A recovery code as shown: two groups of four, easier to copy by hand."""
    return f"{code[:4]}-{code[4:]}"


def qr_data_uri(device):
    """The otpauth:// URL as a QR code, drawn here (no service sees the key): a data: URL
    the Content-Security-Policy allows as an image."""
    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def key_groups(device):
    """The key in base32, in groups of four, for typing into an app by hand."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
