"""Catching up on what webhooks missed, where the platform lets us ask.

- Stripe: its events list (`GET /v1/events?created[gte]=…`), kept 30 days; each event
  goes in as a delivery with its own `evt_…` id, so one that did arrive by webhook is
  recognised as a repeat and applied once.
- Shopify: orders changed since a time (`GET /admin/api/<v>/orders.json?updated_at_min=…`);
  each one is an `orders/updated` delivery whose id is the order's id and `updated_at`.

The fetched deliveries are processed like the others (delivery_process); the cursor
moves only when a fetch succeeded, with an overlap so nothing at the edge is lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import transaction
from django.utils import timezone

from procedo.core.errors import DomainError
from procedo.integrations import remote
from procedo.integrations.models import Connection, Delivery, DeliveryState
from procedo.integrations.secrets import secret_decrypt

FIRST_LOOK_BACK = timedelta(days=3)
OVERLAP = timedelta(minutes=10)  # events stamped just before a fetch may appear just after
MAX_PAGES = 20
SOURCE_HEADER = {"X-Procedo-Source": "reconciliation"}


@dataclass(frozen=True)
class Caught:
    fetched: int
    stored: int  # not seen before: new deliveries


def _store(connection: Connection, *, topic: str, event_id: str, item: Any) -> bool:
    if Delivery.objects.filter(connection=connection, event_id=event_id).exists():
        return False
    Delivery.objects.create(
        connection=connection,
        topic=topic[:100],
        event_id=event_id[:200],
        headers=SOURCE_HEADER,
        body=json.dumps(item, default=str).encode(),
        state=DeliveryState.RECEIVED,
    )
    return True


def _stripe(connection: Connection, key: str, since: datetime) -> Caught:
    fetched = stored = 0
    query: dict[str, Any] = {"created[gte]": int(since.timestamp()), "limit": 100}
    for _page in range(MAX_PAGES):
        answer, _headers = remote.call_json(
            f"{remote.STRIPE_API}/v1/events?{urlencode(query)}",
            headers={"Authorization": f"Bearer {key}"},
        )
        events = answer.get("data") or [] if isinstance(answer, dict) else []
        for event in events:
            fetched += 1
            stored += _store(
                connection,
                topic=str(event.get("type") or ""),
                event_id=str(event.get("id") or ""),
                item=event,
            )
        if not (isinstance(answer, dict) and answer.get("has_more") and events):
            break
        query["starting_after"] = events[-1]["id"]
    return Caught(fetched, stored)


def _shopify(connection: Connection, key: str, since: datetime) -> Caught:
    fetched = stored = 0
    base = remote.shopify_base(connection.account)
    query = {"updated_at_min": since.isoformat(), "status": "any", "limit": 250}
    url = f"{base}/admin/api/{remote.SHOPIFY_API_VERSION}/orders.json?{urlencode(query)}"
    for _page in range(MAX_PAGES):
        answer, headers = remote.call_json(url, headers={"X-Shopify-Access-Token": key})
        orders = answer.get("orders") or [] if isinstance(answer, dict) else []
        for order in orders:
            fetched += 1
            event_id = f"reconciled:order:{order.get('id')}:{order.get('updated_at')}"
            stored += _store(connection, topic="orders/updated", event_id=event_id, item=order)
        # Shopify pages by cursor in the Link header: <…page_info=…>; rel="next".
        following = [
            part.split(";")[0].strip(" <>")
            for part in (headers.get("Link") or headers.get("link") or "").split(",")
            if 'rel="next"' in part
        ]
        if not following:
            break
        url = following[0]
    return Caught(fetched, stored)


FETCHERS = {"stripe": _stripe, "shopify": _shopify}


def connection_reconcile(*, connection_id: int, now: datetime | None = None) -> Caught:
    """Fetch what the platform changed since the cursor; store it as deliveries."""
    now = now or timezone.now()
    connection = Connection.objects.get(pk=connection_id)
    fetch = FETCHERS.get(connection.platform)
    key = secret_decrypt(connection.api_key_encrypted) if connection.api_key_encrypted else None
    if fetch is None or not key:
        return Caught(0, 0)
    since = connection.reconciled_until or now - FIRST_LOOK_BACK
    try:
        with transaction.atomic():
            caught = fetch(connection, key, since - OVERLAP)
    except DomainError as exc:
        Connection.objects.filter(pk=connection.pk).update(reconcile_error=exc.message[:300])
        return Caught(0, 0)
    Connection.objects.filter(pk=connection.pk).update(reconciled_until=now, reconcile_error="")
    return caught


def connections_reconcilable() -> list[int]:
    return list(
        Connection.objects.filter(active=True, platform__in=list(FETCHERS))
        .exclude(api_key_encrypted="")
        .values_list("id", flat=True)
    )
