"""URL converters."""

from django.urls import register_converter


class IdConverter:
    """A row id in a URL: 1 to 19 digits and within a 64-bit primary key, else the URL does not match (404).

    Django's `int` takes any length, and a 25-digit id overflows SQLite's integer: a 500.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value):
        number = int(value)
        if not 0 < number < 2**63:
            raise ValueError("not a row id")
        return number

    def to_url(self, value):
        return str(value)


register_converter(IdConverter, "id")
