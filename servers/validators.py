"""Validators for user text that ends up in server.cfg or on the srcds command line."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible

# Pure checks, no side effects: the cfg rules live once, in hostctl, which checks
# them again when it writes server.cfg.
from hostctl import cvars

# Source cfg has no escape for a double quote, and a newline or ';' outside quotes
# starts a new command: names are limited to printable text without quotes.
validate_server_name = RegexValidator(
    r'^[^"\x00-\x1f\x7f;]+\Z',
    "Use printable characters only, without double quotes, semicolons or line breaks.",
)
validate_map_name = RegexValidator(
    r"^[A-Za-z0-9_]+\Z", "A map name is letters, digits and underscores, e.g. c1m1_hotel."
)


@deconstructible
class CvarValidator:
    """Validates the everyday cvar `name` by hostctl's rule for it."""

    def __init__(self, name):
        self.name = name

    def __call__(self, value):
        try:
            cvars.check(self.name, value)
        except cvars.CfgError as exc:
            raise ValidationError(str(exc)) from None

    def __eq__(self, other):
        return isinstance(other, CvarValidator) and other.name == self.name


def validate_extra_cfg(text):
    """Every line of an "extra cfg" must be one that hostctl will write."""
    errors = [f"Line {number}: {reason}." for number, reason in cvars.extra_errors(text)]
    if errors:
        raise ValidationError(errors)
