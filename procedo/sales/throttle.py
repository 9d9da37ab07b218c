"""How many web-form posts one address may send: a fixed window in the shared cache.

The form is public, so a script could fill the lead list; past FORM_LIMIT posts
in FORM_WINDOW_SECONDS from one address the form answers 429 with Retry-After
(a person who typed a lead never gets near it). The count lives in the cache every
worker shares, as the API token failures do (procedo/accounts/throttle.py).
"""

from __future__ import annotations

import hashlib
import math
import time

from django.core.cache import cache

FORM_LIMIT = 20
FORM_WINDOW_SECONDS = 600
BODY_MAX = 32 * 1024  # a form's post: a name, contacts, a message and UTM tags


def _key(address: str | None) -> str:
    return "sales-form-posts:" + hashlib.sha256((address or "").encode()).hexdigest()[:32]


def form_wait_seconds(*, address: str | None) -> int:
    """0 if `address` may post now; else the seconds until it may again."""
    entry = cache.get(_key(address))
    if entry is None:
        return 0
    posts, closes_at = entry
    now = time.time()
    if posts < FORM_LIMIT or closes_at <= now:
        return 0
    return max(1, math.ceil(closes_at - now))


def form_count(*, address: str | None) -> None:
    now = time.time()
    key = _key(address)
    entry = cache.get(key)
    posts, closes_at = entry if entry is not None else (0, 0.0)
    if closes_at <= now:
        posts, closes_at = 0, now + FORM_WINDOW_SECONDS
    cache.set(key, (posts + 1, closes_at), timeout=math.ceil(closes_at - now))
