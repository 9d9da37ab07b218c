"""Reads for the webhook pages and the API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from procedo.core.errors import NotFound
from procedo.outbound.models import Delivery, DeliveryState, Subscription


def subscriptions_all() -> list[Subscription]:
    """Every webhook, with how many of its deliveries wait and how many failed."""
    return list(
        Subscription.objects.annotate(
            pending=Count("deliveries", filter=Q(deliveries__state=DeliveryState.PENDING)),
            failed=Count("deliveries", filter=Q(deliveries__state=DeliveryState.FAILED)),
        ).order_by("name", "id")
    )


def subscription_get(*, subscription_id: int) -> Subscription:
    found = Subscription.objects.select_related("owner").filter(pk=subscription_id).first()
    if found is None:
        raise NotFound(
            field="subscription_id",
            message=_("No webhook with id %(id)s.") % {"id": subscription_id},
        )
    return found


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    next_before: int | None


def deliveries_of(
    *, subscription_id: int, state: str = "", before: int | None = None, limit: int = 50
) -> DeliveryPage:
    """A webhook's deliveries, newest first, one keyset page at a time."""
    rows = Delivery.objects.filter(subscription_id=subscription_id).defer("body")
    if state:
        rows = rows.filter(state=state)
    if before is not None:
        rows = rows.filter(id__lt=before)
    found = list(rows.order_by("-id")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return DeliveryPage(found, found[-1].pk if more and found else None)


def delivery_get(*, delivery_id: int) -> Delivery:
    found = Delivery.objects.filter(pk=delivery_id).first()
    if found is None:
        raise NotFound(
            field="delivery_id", message=_("No delivery with id %(id)s.") % {"id": delivery_id}
        )
    return found
