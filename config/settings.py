"""Procedo's settings: everything that differs between installations comes from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from procedo.core.envconfig import (
    base_url_from_env,
    database_from_env,
    env_flag,
    env_int,
    env_list,
    env_origins,
    huey_from_env,
    phone_region_from_env,
    secret_key,
    served_url_from_env,
    var_dir,
)
from procedo.messaging.emailconfig import email_from_env, from_email_from_env, sms_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var_dir(BASE_DIR)

DEBUG = env_flag("PROCEDO_DEBUG")
SECRET_KEY = secret_key(VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_origins("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "ninja",  # the API docs from its own static files, not a CDN
    "django_htmx",
    "template_partials",
    "huey.contrib.djhuey",
    "procedo.core",
    "procedo.events",
    "procedo.business",
    "procedo.accounts",
    "procedo.home",
    "procedo.customers",
    "procedo.catalog",
    "procedo.orders",
    "procedo.imports",
    "procedo.sops",
    "procedo.automation",
    "procedo.work",
    "procedo.messaging",
    "procedo.collab",
    "procedo.knowledge",
    "procedo.analytics",
    "procedo.marketing",
    "procedo.support",
    "procedo.outbound",
    "procedo.loyalty",
    "procedo.integrations",
    "procedo.sales",
    "procedo.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything queries: the whole request waits at most PROCEDO_DB_LOCK_WAIT for a lock.
    "procedo.core.middleware.DatabaseLockWaitMiddleware",
    # A platform's delivery to /hooks/ is answered here, without the browsers' middleware.
    "procedo.integrations.middleware.PlatformDeliveryMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body (CsrfViewMiddleware does): 413 unread.
    "procedo.core.middleware.RequestSizeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "procedo.accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "procedo.business.middleware.BusinessTimezoneMiddleware",
    "procedo.core.middleware.DatabaseUnavailableMiddleware",
    "procedo.core.middleware.DomainErrorMiddleware",
    # Last, as axes asks: it turns a refused log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "procedo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "procedo.home.context_processors.shell",
            ],
        },
    }
]

DATABASES = {"default": database_from_env(VAR_DIR)}
# A web request's writer waits this many seconds for a lock (SQLite's busy timeout,
# PostgreSQL's lock_timeout), then answers 503 with Retry-After; reads go on meanwhile.
# The worker and the CLI keep the connection's own wait (30 s on SQLite).
PROCEDO_DB_LOCK_WAIT = env_int("PROCEDO_DB_LOCK_WAIT", 5, high=600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache every worker process shares (local memory would give each gunicorn worker
# its own counters): failed API tokens per address, one lockout event per lockout.
# Its table is created by a migration (procedo/accounts/migrations).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "procedo_cache",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    }
}

AUTH_USER_MODEL = "accounts.User"
# axes refuses a log-in while the account or the address is locked; ModelBackend checks
# the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Stored in UTC; shown in the business's own zone (procedo.core.middleware).
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("uk", _("Ukrainian"))]
LOCALE_PATHS = [BASE_DIR / "procedo" / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

HUEY = huey_from_env(VAR_DIR, immediate=False)

# The hook appends each delivery to its web process's file here, flushed to the disk before
# it answers, and moves them into the database in batches (procedo/integrations/spool.py;
# make bench, B1). It must be on the web server's own disk. Off: each delivery is INSERTed
# before the answer.
PROCEDO_HOOK_SPOOL = VAR_DIR / "hooks-spool" if env_flag("PROCEDO_HOOK_SPOOL", True) else None

# Brute force (django-axes): 10 wrong passwords for one username, or from one address
# whatever the usernames, lock that username or address for 15 minutes after the last
# failure. Each (username) and (address) is counted on its own: a (username, address)
# pair would never reach the limit before either of them does. A wrong password while
# locked counts too, so a guesser stays locked. A successful log-in clears only that
# username's failures from that address (procedo/accounts/signals.py): axes' own reset
# would also clear the address's guesses at other usernames, so anyone with an account
# could log in between guesses at a colleague's password and never be locked.
# `procedo axes_reset` or the Team page unlocks sooner.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "procedo.accounts.clients.client_address"
AXES_LOCKOUT_CALLABLE = "procedo.accounts.views.login_locked_out"
# Successful log-ins are already `user.logged_in` events; axes' own access log would be a
# second, ever-growing copy.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False  # no start-up banner on every `procedo` command
# How many reverse proxies stand in front and append to X-Forwarded-For; with 0 the
# client's address is the connection's (procedo/accounts/clients.py).
PROCEDO_PROXY_COUNT = env_int("PROCEDO_PROXY_COUNT", 0, low=0, high=5)
# Wrong API tokens (malformed or unknown) from one address: after 20 within 15 minutes,
# every bearer token from there gets 429 until the window ends.
PROCEDO_API_TOKEN_FAILURE_LIMIT = 20
PROCEDO_API_TOKEN_FAILURE_WINDOW = timedelta(minutes=15)

# Only our own files: no inline script, style or event handler anywhere (htmx's
# indicator style is off in base.html); data: for the favicon and the API docs' icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Bounded work (docs/architecture.md, "Imports"). An upload past PROCEDO_MAX_UPLOAD_MB
# is refused with 413 and nothing is stored: by its Content-Length before it is read,
# and by the bytes as they stream in (procedo/core/uploads.py). Django spools a file
# over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file rather than memory.
_MB = 1024 * 1024
PROCEDO_MAX_UPLOAD_BYTES = env_int("PROCEDO_MAX_UPLOAD_MB", 200, high=100_000) * _MB
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * _MB
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * _MB // 2  # Django's: a body's fields and JSON, files aside
FILE_UPLOAD_HANDLERS = [
    "procedo.core.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# An import file, once uncompressed, is read a line at a time and refused past these.
PROCEDO_IMPORT_MAX_BYTES = env_int("PROCEDO_IMPORT_MAX_MB", 2048, high=1_000_000) * _MB
PROCEDO_IMPORT_MAX_ROWS = env_int("PROCEDO_IMPORT_MAX_ROWS", 2_000_000, high=10_000_000_000)

# Outbound webhooks post only to addresses on the internet (procedo/outbound/addresses.py);
# an installation inside a private network, or the tests' receiver on loopback, allows more.
PROCEDO_WEBHOOKS_ALLOW_PRIVATE = env_flag("PROCEDO_WEBHOOKS_ALLOW_PRIVATE")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Behind TLS (any real deployment) these make `procedo check --deploy` clean;
# the embedded run on http://127.0.0.1 leaves them off.
if env_flag("PROCEDO_HTTPS"):
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes logs each log-in at INFO; its failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # Huey logs every task at INFO; wake-ups run once per transaction, so
        # only the consumer's start/stop and problems are worth a line.
        "huey": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "huey.consumer": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "huey.consumer.Scheduler": {"level": "WARNING"},
    },
}

EVENT_BATCH_SIZE = 500
# Where a phone written without "+country" is from (ISO 3166 alpha-2).
PROCEDO_PHONE_REGION = phone_region_from_env("UA")

# Outbound email (procedo/messaging/emailconfig.py documents EMAIL_URL's forms).
PROCEDO_EMAIL = email_from_env(VAR_DIR)
DEFAULT_FROM_EMAIL = from_email_from_env()
PROCEDO_SMS = sms_from_env()  # SMS_URL, e.g. twilio://SID:TOKEN@api.twilio.com/?from=%2B1…
# Where links in messages (unsubscribe, tasks) point: this installation as people reach it.
# Unset, the address HOST and PORT serve; `procedo run --port` exports it to its children.
PROCEDO_BASE_URL = base_url_from_env(served_url_from_env())
# Support's Telegram bot (procedo/support/telegram.py): the bot's token, the secret
# setWebhook was given (Telegram sends it back in X-Telegram-Bot-Api-Secret-Token),
# and the Bot API's address (a local server in tests).
PROCEDO_TELEGRAM = {
    "token": os.environ.get("TELEGRAM_BOT_TOKEN", ""),
    "webhook_secret": os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
    "api_url": os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/"),
}
