"""Guessing API tokens: unknown tokens are counted per address, then answered 429 for a while."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from procedo.accounts import services, throttle
from procedo.accounts.models import User

pytestmark = pytest.mark.django_db

ME = "/api/accounts/me"
LIMIT = settings.PROCEDO_API_TOKEN_FAILURE_LIMIT


def _get(token: str, address: str) -> Any:
    return Client().get(ME, headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=address)


def test_after_the_limit_an_address_gets_429_with_retry_after(owner: User) -> None:
    issued = services.api_token_issue(user=owner, name="sync", expires_in_days=None, actor=owner)
    for number in range(LIMIT):
        token = f"pro_{number:08x}_guess" if number % 2 else "not-even-a-token"
        assert _get(token, "203.0.113.50").status_code == 401

    refused = _get("pro_deadbeef_guess", "203.0.113.50")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    body = refused.json()
    assert body["field"] == "Authorization" and "try again in 15 minutes" in body["detail"]
    # A right guess from there is refused too, or the limit would tell guessers when they won.
    assert _get(issued.plaintext, "203.0.113.50").status_code == 429
    # Another address is not slowed.
    assert _get(issued.plaintext, "198.51.100.20").json()["username"] == "owner"


def test_valid_tokens_are_never_counted(owner: User) -> None:
    issued = services.api_token_issue(user=owner, name="sync", expires_in_days=None, actor=owner)
    for _ in range(LIMIT + 5):
        assert _get(issued.plaintext, "192.0.2.30").status_code == 200
    assert throttle.api_token_wait_seconds(address="192.0.2.30") == 0


def test_a_revoked_token_says_so_and_is_not_a_guess(owner: User) -> None:
    issued = services.api_token_issue(user=owner, name="old", expires_in_days=None, actor=owner)
    services.api_token_revoke(token_id=issued.token.pk, actor=owner)
    for _ in range(LIMIT + 1):
        refused = _get(issued.plaintext, "192.0.2.31")
        assert (refused.status_code, refused.json()["detail"]) == (
            401,
            "This API token was revoked.",
        )


def test_the_window_closes(owner: User) -> None:
    for _ in range(LIMIT):
        _get("pro_00000000_guess", "192.0.2.32")
    assert throttle.api_token_wait_seconds(address="192.0.2.32") > 0
    # The counter is the cache's; its window is over when the stored end has passed.
    key = throttle._key("192.0.2.32")
    failures, _closes_at = cache.get(key)
    cache.set(key, (failures, 0.0))
    assert throttle.api_token_wait_seconds(address="192.0.2.32") == 0
    assert _get("pro_00000000_guess", "192.0.2.32").status_code == 401
    assert cache.get(key)[0] == 1  # a new window, counting from one
