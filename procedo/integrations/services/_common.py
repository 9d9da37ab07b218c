"""What the integrations' writes share: the bounds of a delivery and a secret."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from procedo.integrations.models import Delivery

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; Shopify's and Stripe's largest payloads are well under this
SECRET_MAX = 500
# A failed delivery is tried again after 1, 2, 4 … minutes, up to about a day in all;
# then it waits for a person's replay. A delivery that waits for another (a refund for
# its order) is also tried again as soon as one of the same connection is processed.
MAX_ATTEMPTS = 12
# Headers that say who sent the request to us, not what the platform sent: not kept.
_HEADERS_DROPPED = frozenset({"Cookie", "Authorization"})


# The worker claims each platform event once, whichever path applies it (delivery_process
# one at a time, batching in a batch): one key, operation and request for both.
DELIVERY_CLAIM = "integrations.delivery"


def delivery_claim(delivery: Delivery) -> tuple[str, dict[str, Any]]:
    """The idempotency key and request under which the worker applies this delivery's event."""
    key = f"hook:{delivery.connection_id}:{delivery.event_id}"[:200]
    return key, {"connection": delivery.connection_id, "event_id": delivery.event_id}
