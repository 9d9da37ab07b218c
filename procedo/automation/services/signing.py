"""Signing outgoing SOP webhooks, so a receiver can tell Procedo's calls from anyone's.

Every call carries

    Procedo-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
    Procedo-Timestamp: <unix seconds>

with the installation's webhook secret (`WebhookKey`, made once on first use and
shown by `procedo webhook_secret`). The timestamp is inside the signed text, so
a receiver that checks it (e.g. within 5 minutes, `TOLERANCE`) refuses a
replayed old call; each retry is signed afresh with its own time. The scheme is
Stripe's: `v1` names the scheme so a later one can be added beside it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from procedo.automation.models import WebhookKey

SIGNATURE_HEADER = "Procedo-Signature"
TIMESTAMP_HEADER = "Procedo-Timestamp"
TOLERANCE = 300  # seconds a receiver should accept between the timestamp and its clock


def webhook_secret() -> str:
    """The installation's signing secret; the first caller makes it (two at once agree)."""
    key = WebhookKey.objects.order_by("id").values_list("secret", flat=True).first()
    if key is not None:
        return key
    # pk=1: two processes making the key at once insert one row; both then read it.
    WebhookKey.objects.bulk_create(
        [WebhookKey(pk=1, secret="whsec_" + secrets.token_urlsafe(32))], ignore_conflicts=True
    )
    return str(WebhookKey.objects.order_by("id").values_list("secret", flat=True).first())


def webhook_signature(body: bytes, timestamp: int, secret: str) -> str:
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def webhook_headers(body: bytes, *, secret: str, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    digest = webhook_signature(body, timestamp, secret)
    return {
        SIGNATURE_HEADER: f"t={timestamp},v1={digest}",
        TIMESTAMP_HEADER: str(timestamp),
    }


def webhook_verify(
    body: bytes, header: str, *, secret: str, now: float | None = None, tolerance: int = TOLERANCE
) -> bool:
    """What a receiver does: parse the header, recompute, compare in constant time, check age."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _sep, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    current = now if now is not None else time.time()
    if abs(current - timestamp) > tolerance:
        return False
    expected = webhook_signature(body, timestamp, secret)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
