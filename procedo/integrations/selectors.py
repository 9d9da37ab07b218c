"""Reads for the connection pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from procedo.events.models import Event
from procedo.integrations.models import Connection, Delivery, DeliveryState, SkuReview
from procedo.integrations.services.testing import ConnectionTest, connection_test_of

DELIVERIES_PAGE = 50


def hook_path(connection: Connection) -> str:
    """The path the platform posts to; the page and the API make it absolute."""
    return reverse("hooks:receive", args=[connection.platform, connection.key])


def connections_list() -> QuerySet[Connection]:
    counts = {
        f"n_{state}": Count("deliveries", filter=Q(deliveries__state=state))
        for state in DeliveryState.values
    }
    return Connection.objects.annotate(**counts).order_by("name", "id")


def connection_get(*, connection_id: int) -> Connection | None:
    return Connection.objects.filter(pk=connection_id).first()


@dataclass(frozen=True)
class DeliveryPage:
    items: list[Delivery]
    next_before: int | None  # pass as `before` for the next (older) page


def deliveries_page(
    *, connection_id: int, state: str = "", before: int | None = None, limit: int = DELIVERIES_PAGE
) -> DeliveryPage:
    """Newest first, keyset on id; the body is left out (it may be a megabyte)."""
    rows = Delivery.objects.filter(connection_id=connection_id).defer("body", "headers")
    if state:
        rows = rows.filter(state=state)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    items = list(rows.order_by("-id")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return DeliveryPage(items, items[-1].pk if more and items else None)


def delivery_counts(*, connection_id: int) -> dict[str, int]:
    counts = dict(
        Delivery.objects.filter(connection_id=connection_id)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return {state: counts.get(state, 0) for state in DeliveryState.values}


def sku_reviews(*, connection_id: int, limit: int = 20) -> list[SkuReview]:
    return list(
        SkuReview.objects.filter(connection_id=connection_id)
        .select_related("sku__product")
        .order_by("-id")[:limit]
    )


def deliveries_waiting() -> bool:
    """Deliveries stored and not yet taken up by the worker."""
    return Delivery.objects.due(DeliveryState.RECEIVED).exists()


def connection_last_test(*, connection_id: int) -> ConnectionTest | None:
    """The last "send a test" of a connection and what became of it."""
    event = (
        Event.objects.filter(
            subject_type="connection", subject_id=connection_id, event_type="connection.tested"
        )
        .order_by("-id")
        .first()
    )
    return connection_test_of(event) if event is not None else None
