"""Outgoing mail from one setting, DJANGO_EMAIL_URL (read in settings.py).

    smtp+tls://user:password@mail.example.org:587   STARTTLS (default port 587)
    smtps://user:password@mail.example.org:465      TLS from the start (default port 465)
    smtp://mail.example.org:25                      plain SMTP (a relay on the host or LAN)
    console://                                      print mails to the web process's stderr

User and password are URL-encoded (`@` as `%40`). Unset, the panel sends no mail at all
(and offers no password reset): nothing ever tries a mail server that is not there.
"""

from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SMTP = "django.core.mail.backends.smtp.EmailBackend"
SCHEMES = {
    # scheme: (default port, STARTTLS, TLS from the start)
    "smtp": (25, False, False),
    "smtp+tls": (587, True, False),
    "smtps": (465, False, True),
}


def mail_settings(url):
    """Django's EMAIL_* settings for `url` (empty: mail off)."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ImproperlyConfigured(
            f"DJANGO_EMAIL_URL must look like smtp+tls://user:password@host:587 "
            f"(schemes: {', '.join(SCHEMES)}, console), not {parts.scheme}://..."
        )
    port, starttls, tls = SCHEMES[parts.scheme]
    return {
        "EMAIL_BACKEND": SMTP,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": parts.port or port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": starttls,
        "EMAIL_USE_SSL": tls,
    }
