"""Procedo's settings: everything that differs between installations comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from procedo.core.envconfig import (
    database_from_env,
    env_flag,
    env_int,
    env_list,
    huey_from_env,
    secret_key,
    var_dir,
)
from procedo.messaging.emailconfig import email_from_env, from_email_from_env, sms_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = var_dir(BASE_DIR)

DEBUG = env_flag("PROCEDO_DEBUG")
SECRET_KEY = secret_key(VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "huey.contrib.djhuey",
    "procedo.core",
    "procedo.accounts",
    "procedo.events",
    "procedo.customers",
    "procedo.catalog",
    "procedo.orders",
    "procedo.imports",
    "procedo.sops",
    "procedo.automation",
    "procedo.work",
    "procedo.messaging",
    "procedo.collab",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the body (CsrfViewMiddleware does): 413 unread.
    "procedo.core.middleware.RequestSizeMiddleware",
    # Before anything queries: the whole request waits at most PROCEDO_DB_LOCK_WAIT for a lock.
    "procedo.core.middleware.DatabaseLockWaitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "procedo.core.middleware.BusinessTimezoneMiddleware",
    "procedo.core.middleware.DatabaseUnavailableMiddleware",
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
                "procedo.core.context_processors.shell",
            ],
        },
    }
]

DATABASES = {"default": database_from_env(VAR_DIR)}
# A web request's writer waits this many seconds for a lock (SQLite's busy timeout,
# PostgreSQL's lock_timeout), then answers 503 with Retry-After; reads go on meanwhile.
# The worker and the CLI keep the connection's own wait (30 s on SQLite).
PROCEDO_DB_LOCK_WAIT = env_int("PROCEDO_DB_LOCK_WAIT", 5, maximum=600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
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

# Bounded work (docs/architecture.md, "Imports"). An upload past PROCEDO_MAX_UPLOAD_MB
# is refused with 413 and nothing is stored: by its Content-Length before it is read,
# and by the bytes as they stream in (procedo/core/uploads.py). Django spools a file
# over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file rather than memory.
_MB = 1024 * 1024
PROCEDO_MAX_UPLOAD_BYTES = env_int("PROCEDO_MAX_UPLOAD_MB", 200, maximum=100_000) * _MB
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * _MB
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * _MB // 2  # Django's: a body's fields and JSON, files aside
FILE_UPLOAD_HANDLERS = [
    "procedo.core.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# An import file, once uncompressed, is read a line at a time and refused past these.
PROCEDO_IMPORT_MAX_BYTES = env_int("PROCEDO_IMPORT_MAX_MB", 2048, maximum=1_000_000) * _MB
PROCEDO_IMPORT_MAX_ROWS = env_int("PROCEDO_IMPORT_MAX_ROWS", 2_000_000, maximum=10_000_000_000)

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
        # Huey logs every task at INFO; wake-ups run once per transaction, so
        # only the consumer's start/stop and problems are worth a line.
        "huey": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "huey.consumer": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "huey.consumer.Scheduler": {"level": "WARNING"},
    },
}

EVENT_BATCH_SIZE = 500
# Where a phone written without "+country" is from (ISO 3166 alpha-2).
PROCEDO_PHONE_REGION = os.environ.get("PROCEDO_PHONE_REGION", "UA").upper()

# Outbound email (procedo/messaging/emailconfig.py documents EMAIL_URL's forms).
PROCEDO_EMAIL = email_from_env()
DEFAULT_FROM_EMAIL = from_email_from_env()
PROCEDO_SMS = sms_from_env()  # SMS_URL, e.g. twilio://SID:TOKEN@api.twilio.com/?from=%2B1…
# Where links in messages (unsubscribe) point: this installation as people reach it.
PROCEDO_BASE_URL = os.environ.get("PROCEDO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
