"""What the integrations' writes share: the bounds of a delivery and a secret."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; Shopify's and Stripe's largest payloads are well under this
SECRET_MAX = 500
# A failed delivery is tried again after 1, 2, 4 … minutes, up to about a day in all;
# then it waits for a person's replay. A delivery that waits for another (a refund for
# its order) is also tried again as soon as one of the same connection is processed.
MAX_ATTEMPTS = 12
# Headers that say who sent the request to us, not what the platform sent: not kept.
_HEADERS_DROPPED = frozenset({"Cookie", "Authorization"})
