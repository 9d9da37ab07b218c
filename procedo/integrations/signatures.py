"""Each platform's documented signature over the raw body, checked in constant time.

- Shopify: `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(secret, body)).
- WooCommerce: `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body)).
- Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`, v1 = hex(HMAC-SHA256(secret,
  f"{t}.{body}")), any v1 may match, `t` within TOLERANCE of now.
- EasyPost: `X-Hmac-Signature: hmac-sha256-hex=<hex>`, keyed with the NFKD form of the
  secret.
- LiqPay: form fields `data` (base64 JSON) and `signature` =
  base64(SHA1(private_key + data + private_key)).

Never re-serialise parsed JSON before checking: the bytes as sent are what was signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from django.utils.translation import gettext_noop

from procedo.core.texts import LaterText

STRIPE_TOLERANCE = 300  # seconds, the default of Stripe's own libraries


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""  # a catalog original (English); `params` fill it
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> LaterText:
        return LaterText(self.reason, self.params)


def _no_header(name: str) -> Verdict:
    return Verdict(False, gettext_noop("No %(header)s header."), {"header": name})


def judged(ok: bool, name: str) -> Verdict:
    return Verdict(ok, gettext_noop("%(header)s does not match."), {"header": name})


def _b64_hmac_sha256(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def shopify_sign(secret: str, body: bytes) -> str:
    return _b64_hmac_sha256(secret, body)


def shopify_verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    given = headers.get("X-Shopify-Hmac-Sha256", "")
    if not given:
        return _no_header("X-Shopify-Hmac-Sha256")
    return judged(same(given, shopify_sign(secret, body)), "X-Shopify-Hmac-Sha256")


def woocommerce_verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    given = headers.get("X-WC-Webhook-Signature", "")
    if not given:
        return _no_header("X-WC-Webhook-Signature")
    return judged(same(given, _b64_hmac_sha256(secret, body)), "X-WC-Webhook-Signature")


def stripe_sign(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def stripe_verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    given = headers.get("Stripe-Signature", "")
    parts = [item.split("=", 1) for item in given.split(",") if "=" in item]
    stamps = [value for name, value in parts if name.strip() == "t"]
    signatures = [value for name, value in parts if name.strip() == "v1"]
    if not stamps or not stamps[0].isdigit() or not signatures:
        return Verdict(False, gettext_noop("Stripe-Signature has no t= and v1=."))
    timestamp = int(stamps[0])
    expected = stripe_sign(secret, body, timestamp).rsplit("v1=", 1)[1]
    if not any(same(candidate, expected) for candidate in signatures):
        return judged(False, "Stripe-Signature")
    if abs(now - timestamp) > STRIPE_TOLERANCE:
        # Checked after the signature, so an old but genuine delivery says why it was refused.
        return Verdict(
            False,
            gettext_noop("Stripe-Signature is more than %(n)s s old."),
            {"n": STRIPE_TOLERANCE},
        )
    return Verdict(True)


def easypost_sign(secret: str, body: bytes) -> str:
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def easypost_verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    given = headers.get("X-Hmac-Signature", "")
    if not given:
        return _no_header("X-Hmac-Signature")
    return judged(same(given, easypost_sign(secret, body)), "X-Hmac-Signature")


def liqpay_sign(private_key: str, data: str) -> str:
    digest = hashlib.sha1(f"{private_key}{data}{private_key}".encode()).digest()  # noqa: S324 (LiqPay's scheme)
    return base64.b64encode(digest).decode()


def liqpay_fields(body: bytes) -> tuple[str, str]:
    """(data, signature) of LiqPay's form-encoded callback; empty when absent."""
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return "", ""
    return (form.get("data") or [""])[0], (form.get("signature") or [""])[0]


def liqpay_verify(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> Verdict:
    data, signature = liqpay_fields(body)
    if not data or not signature:
        return Verdict(False, gettext_noop("No data and signature fields."))
    return judged(same(signature, liqpay_sign(secret, data)), "signature")


def test_mark(secret: str, body: bytes) -> str:
    """Procedo's own mark on a test it sends itself ("send a test", samples.py): only a
    holder of the secret can make it, and only for this body."""
    return hmac.new(secret.encode(), b"procedo-test\n" + body, hashlib.sha256).hexdigest()


VERIFIERS = {
    "shopify": shopify_verify,
    "woocommerce": woocommerce_verify,
    "stripe": stripe_verify,
    "easypost": easypost_verify,
    "liqpay": liqpay_verify,
}


def verify(platform: str, secret: str, headers: Mapping[str, str], body: bytes) -> Verdict:
    return VERIFIERS[platform](secret, headers, body, time.time())
