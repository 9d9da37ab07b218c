"""MicroPyramid Django-CRM's own settings (crm.settings), with the bench's database.

Left out: `django_ses` (Amazon SES mail, needs boto3; nothing measured sends
mail) and the log file the original writes into the working directory.
"""

import os

from crm import settings as original
from crm.settings import *  # noqa: F403
from harness import django_database

INSTALLED_APPS = [app for app in original.INSTALLED_APPS if app != "django_ses"]
DATABASES = {"default": django_database(os.environ["B8_DATABASE_URL"])}
DEBUG = False  # DEBUG=True keeps every query in memory: not how it runs in production
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
