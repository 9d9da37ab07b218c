"""DjangoCRM's own settings (webcrm.settings), with the bench's database and production DEBUG."""

import os

from harness import django_database
from webcrm.settings import *  # noqa: F403

DATABASES = {"default": django_database(os.environ["B8_DATABASE_URL"])}
DEBUG = False  # DEBUG=True keeps every query in memory: not how it runs in production
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
