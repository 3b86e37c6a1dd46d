"""Settings for the L4D2 host panel, read from environment variables (DESIGN.md §7)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from l4d2site.files import private_dir, private_file, private_sqlite
from l4d2site.mail import mail_settings

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = private_dir(Path(os.environ.get("L4D2_DATA_DIR", BASE_DIR / "data")))

DEBUG = env_bool("DJANGO_DEBUG")


def _secret_key():
    """An explicit key wins; otherwise one is generated once and kept in the data dir,
    so a fresh checkout works without ever running on a well-known key."""
    key = os.environ.get("DJANGO_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        private_file(path, secrets.token_urlsafe(50))
    return private_file(path).read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    # daphne first: `manage.py runserver` then serves HTTP and WebSockets over ASGI.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "activity",
    "accounts",
    "servers",
    # jobs before channels: our `runworker` command must shadow Channels' own.
    "jobs",
    "automation",
    "addons",
    "backups",
    "api",
    "ninja",  # its Swagger UI's own static files: the API docs need no CDN
    "channels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files stay cacheable), above everything that answers.
    "l4d2site.middleware.no_store",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    # A session past the password but not the code (or without the two-factor it must set
    # up) reaches nothing but that step: accounts/two_factor.py.
    "accounts.middleware.two_factor_gate",
    "l4d2site.middleware.ApiKeyStreams",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the page below.
    "axes.middleware.AxesMiddleware",
    # Below Axes, passing everything on: it keeps the chain above in one thread (its docstring).
    "l4d2site.middleware.one_thread",
]

ROOT_URLCONF = "l4d2site.urls"
ASGI_APPLICATION = "l4d2site.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "servers.context_processors.host_mode",
            ],
            # Shared template pieces (relative times), usable by every app's templates.
            "libraries": {"panel_tags": "l4d2site.panel_tags"},
        },
    },
]

# SQLite is the embedded default: WAL lets the web process read while the worker
# writes, IMMEDIATE transactions take the write lock up front (no upgrade deadlocks),
# and the timeout turns short lock waits into waits instead of "database is locked".
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=60,  # one connection per thread, reused: a storm of page loads opens none
        conn_health_checks=True,
    )
}
# Connections each process may hold on PostgreSQL (web process and worker alike).
DB_POOL_SIZE = int(os.environ.get("L4D2_DB_POOL_SIZE", 10))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request runs in a thread of its own, so a connection kept per
    # thread (conn_max_age) outlives its request: 30 concurrent page loads left 25 idle
    # connections behind, and a burst ran PostgreSQL out of them ("too many clients").
    # A pool owns the connections instead: a request or a worker's pass takes one and
    # gives it back when it ends, and no process ever holds more than DB_POOL_SIZE.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        # How long a request waits for a free connection. Short: a burst of 100 requests
        # shares 10 connections in well under a second, and while the database is away
        # every caller waits this long before its error (and its retry).
        "timeout": 5,
    }
    # (conn_health_checks above makes the pool check a connection before lending it:
    # after a database restart its idle connections are dead.)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so a real worker process in a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    private_sqlite(Path(DATABASES["default"]["NAME"]))

# Same-host wake-ups (a job queued, new log lines) through datagram sockets in the data
# dir, so a single host needs no Redis for instant updates; polling remains the safety net.
LOCAL_WAKEUPS = env_bool("L4D2_LOCAL_WAKEUPS", default=True)

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 10},
        }
    }
else:
    # Process-local only: log tails then find new rows by polling the database.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache every web process shares (the API's rate limit): Redis where configured; without
# Redis, each process's memory (so a limit is per web process there).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered rows of finished jobs ({% job_rows %} in jobs/_job_table.html): in each process's
    # memory, even with Redis, as a round trip costs more than the row; a deploy restarts the
    # processes, so no row outlives the template that drew it.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fragments",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
}
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Two panels (or test runs) on one Redis count apart.
        "KEY_PREFIX": os.environ.get("L4D2_CACHE_PREFIX", "l4d2"),
    }

# The HTTP API (api/): requests per key and minute; the next answers 429 with Retry-After.
API_RATE_PER_MINUTE = int(os.environ.get("L4D2_API_RATE_PER_MINUTE", 240))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, with the scheme of accounts/throttle.py): failed logins
# are counted per user name and address, per address, and per user name; which counters
# judge an attempt depends on whether the user has logged in from that address before,
# so an attacker elsewhere can pause a user name only for addresses its owner never used.
# Staff unlock in the admin (Users → action "Unlock logins") or `manage.py axes_reset_username`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("L4D2_LOGIN_FAILURE_LIMIT", 10))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("L4D2_LOGIN_LOCKOUT_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = "accounts.throttle.lockout_parameters"
# A success forgives only its own (user name, address) failures: accounts/auth_events.py.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Logins are in the activity log (auth.login); axes' own copy would never be pruned.
AXES_DISABLE_ACCESS_LOG = True
# The client's address, for throttling and the activity log alike: l4d2site/client_ip.py.
AXES_CLIENT_IP_CALLABLE = "l4d2site.client_ip.client_ip"
# Reverse proxies in front of Daphne that append to X-Forwarded-For (one nginx: 1). The
# client is the entry this many places from the right; 0: REMOTE_ADDR, the header ignored.
PROXY_COUNT = int(os.environ.get("L4D2_PROXY_COUNT") or 0)

# Two-factor login (accounts/two_factor.py): who must have it before reaching any page.
# "off": whoever turned it on; "staff": also every staff member; "all": everyone.
TWO_FACTOR_REQUIRED = os.environ.get("L4D2_2FA_REQUIRED", "off").strip().lower() or "off"
if TWO_FACTOR_REQUIRED not in {"off", "staff", "all"}:
    raise ImproperlyConfigured(f"L4D2_2FA_REQUIRED must be off, staff or all, not {TWO_FACTOR_REQUIRED!r}")
# Wrong codes count against the login throttle above (axes), not django-otp's per-device
# back-off: that one grows without end and would let anyone who has the password lock the
# owner's authenticator; axes' counters spare the addresses the owner logs in from.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = "L4D2 host panel"
# Staff may delete a member's devices in the admin (a lost phone), never read their keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# axes keeps the form fields of failed attempts: a mistyped recovery code stays out of it.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Mail (l4d2site/mail.py): DJANGO_EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587.
# Without it the panel sends nothing and password reset is off (its pages answer 404).
_mail = mail_settings(os.environ.get("DJANGO_EMAIL_URL", ""))
EMAIL_BACKEND = _mail["EMAIL_BACKEND"]
EMAIL_HOST = _mail.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _mail.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _mail.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _mail.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _mail.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _mail.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10  # a mail server that does not answer never holds a web thread for long
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "l4d2-panel@localhost")
PASSWORD_RESET_ENABLED = bool(os.environ.get("DJANGO_EMAIL_URL"))

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/servers/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
# The panel speaks English only: no translation catalog to consult for every string a page
# renders (Django's own messages stay English too).
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the source dirs too, so a checkout that skipped collectstatic
# still has its CSS and JavaScript; collectstatic adds the compressed copies.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security. With DEBUG off everything defaults to HTTPS-only; DJANGO_HTTPS=0 turns
# the HTTPS parts off for a plain-HTTP install on a trusted LAN.
HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy on every response: scripts and styles only from our own
# files (no inline script, no CDN), WebSockets back to where the page came from.
# Inline style attributes stay allowed: the Django admin uses them, and they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# hostctl: where installs live and which binaries run them (DESIGN.md §6).
HOSTCTL_ROOT = Path(os.environ.get("HOSTCTL_ROOT", DATA_DIR / "servers"))
HOSTCTL_STEAMCMD = os.environ.get("HOSTCTL_STEAMCMD", "steamcmd")
HOSTCTL_SIMULATE = env_bool("HOSTCTL_SIMULATE")
HOSTCTL_SIM_SECONDS = float(os.environ.get("HOSTCTL_SIM_SECONDS", 20))
HOSTCTL_STOP_GRACE = float(os.environ.get("HOSTCTL_STOP_GRACE", 5))
HOSTCTL_PLATFORM_WORKAROUND = env_bool("HOSTCTL_PLATFORM_WORKAROUND", default=True)
# Game servers outside the worker's cgroup (systemd-run --scope), so restarting the worker
# never stops them: "auto" where systemd runs the host, "systemd" (required), "off".
HOSTCTL_SERVER_SCOPE = os.environ.get("HOSTCTL_SERVER_SCOPE", "auto")
# The Steam Web API the Workshop items are looked up at (DESIGN.md §14), and how long one
# answer (or one pause in a download) may take before that item is said to have failed.
STEAM_API_URL = os.environ.get("L4D2_STEAM_API_URL", "https://api.steampowered.com")
STEAM_API_TIMEOUT = float(os.environ.get("L4D2_STEAM_API_TIMEOUT", 15))

# Game hosts: a node whose worker has not heartbeated for this long shows as offline,
# and its running jobs are failed after NODE_JOB_TIMEOUT_SECONDS.
NODE_HEARTBEAT_SECONDS = float(os.environ.get("L4D2_NODE_HEARTBEAT_SECONDS", 5))
NODE_OFFLINE_SECONDS = float(os.environ.get("L4D2_NODE_OFFLINE_SECONDS", 30))
NODE_JOB_TIMEOUT_SECONDS = float(os.environ.get("L4D2_NODE_JOB_TIMEOUT_SECONDS", 120))

# Fair queue: jobs a (non-staff) owner may have waiting at once; the next one answers 429.
MAX_QUEUED_PER_OWNER = int(os.environ.get("L4D2_MAX_QUEUED_PER_OWNER", 20))
# Schedules run and webhooks deliver with nobody there, outside the per-person limits:
# these cap them per server (staff too: the cap protects the server). A staff member's
# webhooks for all servers count against the webhook cap per person (automation/limits.py).
MAX_SCHEDULES_PER_SERVER = int(os.environ.get("L4D2_MAX_SCHEDULES_PER_SERVER", 20))
MAX_WEBHOOKS_PER_SERVER = int(os.environ.get("L4D2_MAX_WEBHOOKS_PER_SERVER", 10))

# Open WebSockets and live HTTP streams (SSE, log.txt?follow=1) one user may hold in one
# web process; the next is refused (WebSocket close 4429, HTTP 429). 0: no cap.
L4D2_MAX_SOCKETS_PER_USER = int(os.environ.get("L4D2_MAX_SOCKETS_PER_USER", 50))

# Supervision (DESIGN.md §8): how often the worker checks its servers, how long a live
# process may stay silent to A2S before it is "unresponsive", how often resource use
# is sampled for the charts, and the address players connect to when the server's
# node has none (empty: the host name the page was opened with).
MONITOR_SECONDS = float(os.environ.get("L4D2_MONITOR_SECONDS", 5))
UNRESPONSIVE_SECONDS = float(os.environ.get("L4D2_UNRESPONSIVE_SECONDS", 60))
SAMPLE_SECONDS = float(os.environ.get("L4D2_SAMPLE_SECONDS", 30))
PUBLIC_ADDRESS = os.environ.get("L4D2_PUBLIC_ADDRESS", "")

# The worker process's duties besides running jobs, one thread each (l4d2site/loops.py).
WORKER_LOOPS = [
    "servers.supervisor.Supervisor",
    "servers.console.pump.ConsolePump",
    "servers.files.worker.FileRelayLoop",
    "automation.updates.UpdateWatcher",
    "automation.scheduler.Scheduler",
    "automation.webhooks.sender.WebhookSender",
    "jobs.prune.PruneLoop",
]

# Automation (automation/): game updates, schedules, webhooks.
# steamcmd is asked for the latest build at most this often per game host.
UPDATE_CHECK_MINUTES = float(os.environ.get("L4D2_UPDATE_CHECK_MINUTES", 60))
# How long players of a running server are warned before a restart, a stop or an update takes
# it down. L4D2_UPDATE_WARNING_SECONDS is its old name (it covered updates only), still read.
WARNING_SECONDS = float(
    os.environ.get("L4D2_WARNING_SECONDS") or os.environ.get("L4D2_UPDATE_WARNING_SECONDS") or 60
)
# Webhooks to private, loopback, link-local or reserved addresses are refused unless allowed.
WEBHOOKS_ALLOW_PRIVATE = env_bool("L4D2_WEBHOOKS_ALLOW_PRIVATE")
# A failed webhook delivery is tried again after this, doubling each time (5 tries in all).
WEBHOOK_RETRY_SECONDS = float(os.environ.get("L4D2_WEBHOOK_RETRY_SECONDS", 30))
# Where people reach the panel: links in webhook messages point here.
PANEL_URL = os.environ.get("L4D2_PANEL_URL", "http://127.0.0.1:8000").rstrip("/")

# Addons (addons/): where SourceMod and MetaMod:Source builds are downloaded from, and which
# branch (the latest build of it is installed; 1.12 is the stable branch). AlliedModders' own
# drops by default; the simulated quick start may point them at hostctl/sim/alliedmods.py.
L4D2_SOURCEMOD_URL = os.environ.get("L4D2_SOURCEMOD_URL", "https://sm.alliedmods.net/smdrop")
L4D2_SOURCEMOD_BRANCH = os.environ.get("L4D2_SOURCEMOD_BRANCH", "1.12")
L4D2_METAMOD_URL = os.environ.get("L4D2_METAMOD_URL", "https://mms.alliedmods.net/mmsdrop")
L4D2_METAMOD_BRANCH = os.environ.get("L4D2_METAMOD_BRANCH", "1.12")
# The largest compiled plugin (.smx) the plugins page accepts.
L4D2_PLUGIN_MAX_KB = int(os.environ.get("L4D2_PLUGIN_MAX_KB", 2048))

# Daily pruning of finished jobs older than this many days (unset: never), keeping
# each server's last L4D2_PRUNE_KEEP_LAST jobs (manage.py prunejobs does it by hand).
L4D2_PRUNE_JOBS_DAYS = (
    int(os.environ["L4D2_PRUNE_JOBS_DAYS"]) if os.environ.get("L4D2_PRUNE_JOBS_DAYS") else None
)
L4D2_PRUNE_KEEP_LAST = int(os.environ.get("L4D2_PRUNE_KEEP_LAST") or 10)
# Activity events (DESIGN.md §11) older than this many days are deleted by the same daily prune.
L4D2_ACTIVITY_KEEP_DAYS = int(os.environ.get("L4D2_ACTIVITY_KEEP_DAYS") or 90)

# Console lines kept per server; older ones are pruned in batches by the console pump.
L4D2_CONSOLE_KEEP_LINES = int(os.environ.get("L4D2_CONSOLE_KEEP_LINES", 50_000))
# Disk space (MiB) a server's console.log may take: while srcds runs the console pump
# releases what it has stored (hostctl/logspace.py); a bigger file is rotated at a start.
L4D2_CONSOLE_LOG_MAX_MB = float(os.environ.get("L4D2_CONSOLE_LOG_MAX_MB", 64))

# Backups (backups/, DESIGN.md §13): a folder on the host, or an S3-compatible bucket when
# L4D2_BACKUP_S3_BUCKET is set (downloads then go by signed URL).
L4D2_BACKUP_DIR = Path(os.environ.get("L4D2_BACKUP_DIR") or DATA_DIR / "backups")
L4D2_BACKUP_ZSTD_LEVEL = int(os.environ.get("L4D2_BACKUP_ZSTD_LEVEL") or 3)
if not 1 <= L4D2_BACKUP_ZSTD_LEVEL <= 19:
    raise ImproperlyConfigured(f"L4D2_BACKUP_ZSTD_LEVEL must be 1 to 19, not {L4D2_BACKUP_ZSTD_LEVEL}")
L4D2_BACKUP_S3_BUCKET = os.environ.get("L4D2_BACKUP_S3_BUCKET", "")
L4D2_BACKUP_S3_ENDPOINT_URL = os.environ.get("L4D2_BACKUP_S3_ENDPOINT_URL") or None
L4D2_BACKUP_S3_ACCESS_KEY = os.environ.get("L4D2_BACKUP_S3_ACCESS_KEY") or None
L4D2_BACKUP_S3_SECRET_KEY = os.environ.get("L4D2_BACKUP_S3_SECRET_KEY") or None
L4D2_BACKUP_S3_REGION = os.environ.get("L4D2_BACKUP_S3_REGION") or None

# The file manager (servers/files/): the largest file read, written or uploaded through the
# panel (checked in the browser, the web process and on the game host), and how long a web
# request waits for the game host's worker to answer before saying so (504).
L4D2_FILE_MAX_MB = float(os.environ.get("L4D2_FILE_MAX_MB", 16))
L4D2_FILE_TIMEOUT_SECONDS = float(os.environ.get("L4D2_FILE_TIMEOUT_SECONDS", 15))

LOGGING_PACKAGES = (
    "accounts activity addons api automation backups hostctl jobs l4d2site servers streams".split()
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # Every package of the panel that logs, at L4D2_LOG_LEVEL (a test lists them).
    "loggers": {
        package: {"handlers": ["stderr"], "level": os.environ.get("L4D2_LOG_LEVEL", "INFO")}
        for package in LOGGING_PACKAGES
    },
}
