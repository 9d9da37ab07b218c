"""Settings for the test suite: the same as production but fast password hashing and eager Huey."""

from config.settings import *  # noqa: F403
from config.settings import HUEY

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "immediate": True}
# A delivery is a row as soon as the hook answers: the tests read it at once. The spool has
# its own tests (procedo/integrations/tests/test_spool.py), and R1/R6 run real processes.
PROCEDO_HOOK_SPOOL = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files straight from the apps (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
