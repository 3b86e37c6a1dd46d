"""Login throttling that an attacker cannot turn against the account's owner.

django-axes counts failed logins (one row per user name, address and browser) and asks
this module, through its public setting AXES_LOCKOUT_PARAMETERS, which counters a login
attempt is judged by. Each counter holds the failures of the cool-off window
(L4D2_LOGIN_LOCKOUT_MINUTES) and pauses logins once it reaches L4D2_LOGIN_FAILURE_LIMIT:

- From an address this user has logged in from before (a *known* address: an
  `auth.login` event in the activity log), only the failures of this user name *from
  this address* count. Nobody elsewhere can lock the owner out of where they usually log
  in, and guessing from there is still held to the limit.
- From any other address, two counters: all failures from this address (one address
  trying many names), and all failures for this user name from anywhere (many addresses
  trying one name). So 10 wrong passwords for alice from anywhere pause alice's logins from
  unknown addresses, the attacker's included, but not from her known ones.

A successful login forgives only its own (user name, address) failures
(accounts/auth_events.py): logging in as bob never wipes the record of guesses at alice
made from the same address.
"""

from django.contrib.auth import get_user_model

from activity.models import Event
from l4d2site.client_ip import client_ip

PAIR = ["username", "ip_address"]


def lockout_parameters(request, credentials=None):
    """AXES_LOCKOUT_PARAMETERS: the counters this attempt is judged by (see above)."""
    username = username_tried(request, credentials)
    if is_known_address(username, client_ip(request)):
        return [PAIR]
    # Both of these include the (user name, address) pair's own failures.
    return ["ip_address", "username"]


def username_tried(request, credentials=None):
    field = get_user_model().USERNAME_FIELD
    if credentials:
        return credentials.get(field)
    return request.POST.get(field)


def is_known_address(username, ip):
    """Whether the user with this name has logged in successfully from `ip` before."""
    if not username or not ip:
        return False
    field = get_user_model().USERNAME_FIELD
    return Event.objects.filter(action="auth.login", ip=ip, **{f"actor__{field}": username}).exists()
