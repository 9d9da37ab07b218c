"""How Procedo signs a delivery (docs/webhooks.md shows the receiver's side)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Procedo-Signature"
EVENT_ID_HEADER = "Procedo-Event-Id"
DELIVERY_ID_HEADER = "Procedo-Delivery-Id"
EVENT_TYPE_HEADER = "Procedo-Event-Type"
SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(body: bytes, *, timestamp: int, secret: str) -> str:
    """HMAC-SHA256 of `timestamp.body` with the subscription's secret, in hex."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, *, timestamp: int, secret: str) -> str:
    return f"t={timestamp},v1={signature(body, timestamp=timestamp, secret=secret)}"
