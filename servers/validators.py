"""Validators for user text that ends up in server.cfg or on the srcds command line."""

from django.core.validators import RegexValidator

# Source cfg has no escape for a double quote, and a newline or ';' outside quotes
# starts a new command: names are limited to printable text without quotes.
validate_server_name = RegexValidator(
    r'^[^"\x00-\x1f\x7f;]+\Z',
    "Use printable characters only, without double quotes, semicolons or line breaks.",
)
validate_map_name = RegexValidator(
    r"^[A-Za-z0-9_]+\Z", "A map name is letters, digits and underscores, e.g. c1m1_hotel."
)
