"""Counting failed API tokens per client address, in the cache every worker shares.

A fixed window: the first failure from an address opens it for
PROCEDO_API_TOKEN_FAILURE_WINDOW; once PROCEDO_API_TOKEN_FAILURE_LIMIT failures are
counted in it, every bearer token from that address is refused until it closes, a
valid one too (else a guesser would still learn which guess was right). Successful
calls are never counted. On the database cache two failures at the same instant may
count as one, so a guesser with N parallel connections gets at most N times the limit:
still a bound.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache


def _key(address: str | None) -> str:
    # Connections without an address (a unix socket) share one count.
    return "api-token-failures:" + hashlib.sha256((address or "").encode()).hexdigest()[:32]


def _window_seconds() -> float:
    window = settings.PROCEDO_API_TOKEN_FAILURE_WINDOW
    return float(window.total_seconds())


def api_token_wait_seconds(*, address: str | None) -> int:
    """0 if bearer tokens from `address` are checked; else the seconds until they are again."""
    entry = cache.get(_key(address))
    if entry is None:
        return 0
    failures, closes_at = entry
    now = time.time()
    if failures < settings.PROCEDO_API_TOKEN_FAILURE_LIMIT or closes_at <= now:
        return 0
    return max(1, math.ceil(closes_at - now))


def api_token_failure_count(*, address: str | None) -> None:
    now = time.time()
    key = _key(address)
    entry = cache.get(key)
    failures, closes_at = entry if entry is not None else (0, 0.0)
    if closes_at <= now:
        failures, closes_at = 0, now + _window_seconds()
    cache.set(key, (failures + 1, closes_at), timeout=math.ceil(closes_at - now))
