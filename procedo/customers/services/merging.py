"""Merging duplicate customers, or saying two are not duplicates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError
from procedo.customers.models import (
    Address,
    Customer,
    CustomerTag,
    DuplicateDismissal,
    Identity,
    Note,
)
from procedo.customers.registry import merge_participants
from procedo.customers.services._common import _no_customer, _record, _reindex
from procedo.events.services.recording import event_record, events_move_to_customer


@transaction.atomic
def customer_merge(*, survivor_id: int, duplicate_id: int, actor: Actor) -> Customer:
    """Fold the duplicate into the survivor; the duplicate stays as a tombstone pointing at it.

    Moves identities, addresses, tags, notes and the events' customer_id, fills
    the survivor's blank fields, adds the duplicate's order aggregates to the
    survivor's (a participant may recompute them), then calls every merge
    participant (registry.merge_participant_register) in this same
    transaction. Merging the same pair again is a no-op.
    """
    if survivor_id == duplicate_id:
        raise DomainError(
            field="duplicate_id", message=_("A customer cannot be merged with itself.")
        )
    # Lock both rows in id order: two opposite merges of one pair cannot deadlock,
    # and the second sees the first's result instead of undoing it.
    rows = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor_id, duplicate_id])
        .order_by("pk")
    }
    survivor, duplicate = rows.get(survivor_id), rows.get(duplicate_id)
    if survivor is None:
        raise _no_customer(survivor_id, "survivor_id")
    if duplicate is None:
        raise _no_customer(duplicate_id, "duplicate_id")
    if duplicate.merged_into_id == survivor.pk:
        return survivor
    for field, customer in (("survivor_id", survivor), ("duplicate_id", duplicate)):
        if customer.merged_into_id is not None:
            raise Conflict(
                field=field,
                message=_("Customer #%(id)s was already merged into #%(into)s.")
                % {"id": customer.pk, "into": customer.merged_into_id},
            )

    moved: dict[str, int | None] = {
        "identities": Identity.objects.filter(customer=duplicate).update(customer=survivor),
        "addresses": Address.objects.filter(customer=duplicate).update(customer=survivor),
    }
    # The pair (customer, tag) is unique: drop the duplicate's copies of tags both have.
    CustomerTag.objects.filter(
        customer=duplicate,
        tag_id__in=CustomerTag.objects.filter(customer=survivor).values("tag_id"),
    ).delete()
    moved["tags"] = CustomerTag.objects.filter(customer=duplicate).update(customer=survivor)
    moved["notes"] = Note.objects.filter(customer=duplicate).update(customer=survivor)
    moved["events"] = events_move_to_customer(survivor_id=survivor.pk, duplicate_id=duplicate.pk)
    DuplicateDismissal.objects.filter(Q(customer_a=duplicate) | Q(customer_b=duplicate)).delete()
    # Flatten: whoever was merged into the duplicate now points at the survivor.
    Customer.objects.filter(merged_into=duplicate).update(merged_into=survivor)

    survivor_changes: dict[str, Any] = {
        field: getattr(duplicate, field)
        for field in ("first_name", "last_name", "company", "country", "source")
        if not getattr(survivor, field) and getattr(duplicate, field)
    }
    duplicate_changes: dict[str, Any] = {
        "merged_into": survivor,
        "merged_at": timezone.now(),
        "orders_count": 0,
        "lifetime_value": Decimal(0),
        "first_order_at": None,
        "last_order_at": None,
        "search_text": "",
    }
    if survivor.external_ref is None and duplicate.external_ref is not None:
        survivor_changes["external_ref"] = duplicate.external_ref
        duplicate_changes["external_ref"] = None  # unique: free it before the survivor takes it
    survivor_changes["orders_count"] = survivor.orders_count + duplicate.orders_count
    survivor_changes["lifetime_value"] = survivor.lifetime_value + duplicate.lifetime_value
    firsts = [d for d in (survivor.first_order_at, duplicate.first_order_at) if d is not None]
    lasts = [d for d in (survivor.last_order_at, duplicate.last_order_at) if d is not None]
    survivor_changes["first_order_at"] = min(firsts, default=None)
    survivor_changes["last_order_at"] = max(lasts, default=None)
    Customer.objects.filter(pk=duplicate.pk).update(**duplicate_changes)
    Customer.objects.filter(pk=survivor.pk).update(**survivor_changes)

    for name, participant in merge_participants().items():
        moved[name] = participant(survivor.pk, duplicate.pk)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    _reindex([survivor, duplicate])
    _record(
        "customer.merged",
        customer=survivor,
        actor=actor,
        payload={
            "survivor_id": survivor.pk,
            "duplicate_id": duplicate.pk,
            "duplicate_name": str(duplicate),
            "moved": moved,
        },
    )
    return survivor


@transaction.atomic
def duplicate_dismiss(*, customer_id: int, other_id: int, actor: Actor) -> None:
    """Two customers are different people: stop proposing them as duplicates."""
    if customer_id == other_id:
        raise DomainError(field="other_id", message=_("A customer cannot be merged with itself."))
    first, second = sorted((customer_id, other_id))
    found = set(Customer.objects.filter(pk__in=[first, second]).values_list("pk", flat=True))
    for field, pk in (("customer_id", customer_id), ("other_id", other_id)):
        if pk not in found:
            raise _no_customer(pk, field)
    author = actor if getattr(actor, "is_authenticated", False) else None
    _dismissal, created = DuplicateDismissal.objects.get_or_create(
        customer_a_id=first, customer_b_id=second, defaults={"dismissed_by": author}
    )
    if created:
        event_record(
            event_type="customer.duplicate_dismissed",
            subject_type="customer",
            subject_id=first,
            customer_id=first,
            actor=actor,
            payload={"other_id": second},
        )
