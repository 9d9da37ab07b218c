"""Procedo's own settings with B1's baseline beside the hook: a hello-world endpoint served
by the same gunicorn, the same middleware and the same process (bench/b1_ingest.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
