"""Each platform's reading of a delivery: its topic and event id, and what it changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from procedo.core.texts import LaterText
from procedo.integrations.models import Connection
from procedo.integrations.platforms import easypost, liqpay, shopify, stripe, woocommerce
from procedo.integrations.platforms.common import ShopOrder


def _json(body: bytes) -> Any:
    """The JSON body, numbers kept exact (ids above 2**53, money as Decimal); None if not JSON."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True)
class Spec:
    content_type: str
    decode: Callable[[bytes], Any]
    describe: Callable[[Mapping[str, str], Any], tuple[str, str]]
    handle: Callable[[Connection, str, Any], LaterText]
    # What a delivery says of a shop's order, for the worker's batches (None: not an order).
    read_order: Callable[[str, Any], ShopOrder | None] = lambda topic, payload: None


PLATFORMS: dict[str, Spec] = {
    "shopify": Spec(
        "application/json", _json, shopify.describe, shopify.handle, shopify.read_order
    ),
    "woocommerce": Spec(
        "application/json", _json, woocommerce.describe, woocommerce.handle, woocommerce.read_order
    ),
    "stripe": Spec("application/json", _json, stripe.describe, stripe.handle),
    "easypost": Spec("application/json", _json, easypost.describe, easypost.handle),
    "liqpay": Spec(
        "application/x-www-form-urlencoded", liqpay.decode, liqpay.describe, liqpay.handle
    ),
}
