"""Deliveries processed by the worker: mapped through the platform's code to Procedo's
services, retried with backoff, replayed by a person."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection as db
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotency_claim
from procedo.core.texts import later_text_read
from procedo.events.services.recording import event_record
from procedo.integrations.models import Delivery, DeliveryState
from procedo.integrations.platforms import PLATFORMS
from procedo.integrations.services import batching
from procedo.integrations.services._common import DELIVERY_CLAIM, MAX_ATTEMPTS, delivery_claim
from procedo.integrations.services.waking import deliveries_wake

logger = logging.getLogger(__name__)
# Deliveries one pass reads, the oldest first: a rush larger than this is the next pass's.
PASS = 500


def _retry_at(attempts: int, now: datetime) -> datetime | None:
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(minutes=2 ** (attempts - 1))


def _finish(delivery: Delivery, **fields: Any) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def _fail(delivery: Delivery, **fields: Any) -> None:
    """Mark it failed, unless another worker processed it since this one read it.

    This worker's try began before the other's committed (a refund tried just before its
    order went in, then again by the other worker just after): its failure is out of date.
    Written over the other's success, it left the delivery failed for good (its claim says
    it was applied, so no retry changes it) and its twin a duplicate of a failed delivery
    (R6 at bench size on SQLite, where the worker's two threads met so)."""
    state = DeliveryState.FAILED
    if (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(state=DeliveryState.PROCESSED)
        .update(state=state, **fields)
    ):
        for name, value in {"state": state, **fields}.items():
            setattr(delivery, name, value)
    else:
        delivery.refresh_from_db()


def delivery_process(*, delivery_id: int) -> Delivery:
    """Apply one stored delivery through the orders, customers and catalog services.

    The same platform event twice is processed once: the first processed delivery with
    its id is found (for ever), and the idempotency claim on it is the guard while two
    workers race. A refusal leaves nothing behind and marks the delivery failed with the
    reason; it is tried again later (a refund that came before its payment succeeds then).
    """
    delivery = Delivery.objects.select_related("connection").get(pk=delivery_id)
    if delivery.state in (DeliveryState.PROCESSED, DeliveryState.REJECTED):
        return delivery
    connection, now = delivery.connection, timezone.now()
    spec = PLATFORMS[connection.platform]
    payload = spec.decode(bytes(delivery.body))
    if payload is None:
        _fail(delivery, next_attempt_at=None)
        return delivery
    # The delivery that applied this event: a twin that was itself marked a duplicate
    # does not count (two workers reading this one as received before either committed
    # would otherwise mark each other duplicates, and apply the event nowhere: R6).
    # The twins are read whole and the oldest taken here: asked for the oldest (ORDER BY id
    # LIMIT 1), PostgreSQL walked the connection's every delivery in id order instead of
    # looking up the event (2.7 ms at 3,600 deliveries, growing with them: make bench, B1).
    twins = (
        Delivery.objects.filter(
            connection=connection,
            event_id=delivery.event_id,
            state=DeliveryState.PROCESSED,
            duplicate_of__isnull=True,
        )
        .exclude(pk=delivery.pk)
        .order_by()
        .values_list("id", flat=True)
    )
    first = min(twins, default=None)
    if first is not None:
        # Unless another worker processed this one meanwhile (then it stays as that left it).
        Delivery.objects.filter(pk=delivery.pk).exclude(state=DeliveryState.PROCESSED).update(
            state=DeliveryState.PROCESSED,
            duplicate_of_id=first,
            error="",
            processed_at=now,
            next_attempt_at=None,
        )
        delivery.refresh_from_db()
        return delivery
    try:
        with transaction.atomic():
            key, request = delivery_claim(delivery)
            claim = idempotency_claim(
                key=key, actor=None, operation=DELIVERY_CLAIM, request=request
            )
            if claim.replay and claim.result_id == delivery.pk:
                # Another worker processed this very delivery meanwhile: both read it as
                # received before either committed (R1 found it: it named itself its twin).
                delivery.refresh_from_db()
                return delivery
            if claim.replay:
                duplicate_of: int | None = claim.result_id
                note: dict[str, Any] | None = None
            else:
                note = spec.handle(connection, delivery.topic, payload).stored()
                claim.done(result_id=delivery.pk)
                duplicate_of = None
            _finish(
                delivery,
                state=DeliveryState.PROCESSED,
                duplicate_of_id=duplicate_of,
                error=later_text_read(note).render_in("en")[:1000] if note else "",
                error_field="",
                error_text=note,
                processed_at=now,
                attempts=delivery.attempts + 1,
                next_attempt_at=None,
            )
    except DomainError as exc:
        # A try before the one due (taken up because what it waits for may have come: a
        # refund's order) costs nothing of its backoff: in a rush it would be tried after
        # every delivery of its connection and give up in seconds (R1 at bench size).
        waiting = delivery.next_attempt_at
        early = delivery.state == DeliveryState.FAILED and waiting is not None and waiting > now
        attempts = delivery.attempts + (0 if early else 1)
        _fail(
            delivery,
            error=exc.message[:1000],
            error_field=exc.field[:100],
            error_text=later.stored() if (later := getattr(exc, "later", None)) else None,
            attempts=attempts,
            next_attempt_at=waiting if early else _retry_at(attempts, now),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        # A payload the mapping did not expect: kept failed with the reason, never retried
        # blindly (the same bytes fail the same way); a person replays it after a fix.
        _fail(
            delivery,
            error=f"{type(exc).__name__}: {exc}"[:1000],
            error_field="body",
            error_text=None,
            attempts=delivery.attempts + 1,
            next_attempt_at=None,
        )
    return delivery


def deliveries_process_pending(
    *, connection_id: int | None = None, now: datetime | None = None
) -> int:
    """Process what is waiting, oldest first; each failure stays with its delivery, so it
    never holds up the ones after it. After any success the deliveries that failed for want
    of something (NotYet) are tried once more, until a pass changes nothing."""
    now = now or timezone.now()
    processed = 0
    waiting = Delivery.objects.due(DeliveryState.RECEIVED)
    due = Delivery.objects.due(DeliveryState.FAILED).filter(next_attempt_at__lte=now)
    if connection_id is not None:
        waiting, due = (
            waiting.filter(connection_id=connection_id),
            due.filter(connection_id=connection_id),
        )
    # Oldest first, said outright: the model's ordering is the newest first (for the pages),
    # and under a steady stream that left the first deliveries of a rush to the end of it
    # (make bench, B1b: the first second's orders 20 s late while the rest took 1 s).
    queue = sorted(
        {
            *waiting.order_by("id").values_list("id", flat=True)[:PASS],
            *due.order_by("id").values_list("id", flat=True)[:PASS],
        }
    )
    # New orders of a rush go together first (batching.py); the rest one by one.
    batched: set[int] = set()
    for start in range(0, len(queue), batching.BATCH):
        batched |= batching.deliveries_process_batch(
            delivery_ids=queue[start : start + batching.BATCH]
        )
    processed += len(batched)
    connections = set(
        Delivery.objects.filter(pk__in=batched).values_list("connection_id", flat=True)
    )
    queue = [pk for pk in queue if pk not in batched]
    progressed = bool(batched)
    while True:
        for delivery_id in _not_taken(queue):
            delivery = delivery_process(delivery_id=delivery_id)
            if delivery.state == DeliveryState.PROCESSED:
                processed += 1
                progressed = True
                connections.add(delivery.connection_id)
        if not progressed:
            break
        # What failed may have waited for what just went in (a refund for its order). Sorted
        # here, not by ORDER BY id LIMIT: that walked the connections' every delivery in id
        # order for the few failed ones (5.9 ms at 4,200, growing with them).
        queue = sorted(
            Delivery.objects.due(DeliveryState.FAILED)
            .filter(
                connection_id__in=connections,
                next_attempt_at__isnull=False,
            )
            .order_by()
            .values_list("id", flat=True)
        )[:PASS]
        progressed = False
    return processed


def _not_taken(delivery_ids: list[int]) -> list[int]:
    """Those still to process, in their order, and not in another worker's batch right now.

    Two workers read the same waiting deliveries and batch them in turns (batching.py);
    each then takes one at a time only what it did not batch. A delivery in the other's
    batch was applied meanwhile, or is being applied (PostgreSQL skips rows another
    transaction holds): one at a time beside that batch it was applied a second, slow way
    while the batch held its locks (make bench, B1b: the worker at 398 deliveries/s).
    A batch refused as a whole goes one at a time in its own worker; one that died with its
    worker is taken up again by the next pass."""
    if not delivery_ids:
        return []
    waiting = Delivery.objects.filter(pk__in=delivery_ids).exclude(
        state__in=[DeliveryState.PROCESSED, DeliveryState.REJECTED]
    )
    if not db.features.has_select_for_update_skip_locked:
        # SQLite has no row locks to skip: one in another thread's open batch reads as
        # waiting, and its try waits for that batch, then finds its claim taken. No
        # transaction: there it would take the write lock from the hooks for a read.
        free = set(waiting.values_list("pk", flat=True))
    else:
        with transaction.atomic():
            free = set(waiting.select_for_update(skip_locked=True).values_list("pk", flat=True))
    return [pk for pk in delivery_ids if pk in free]


@transaction.atomic
def delivery_replay(*, delivery_id: int, actor: Actor) -> Delivery:
    """A person asks for a failed delivery to be processed again now (after fixing the
    reason: a missing status in the pipeline, a currency)."""
    delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(field="delivery_id", message=_("No such delivery."))
    if delivery.state != DeliveryState.FAILED:
        raise Conflict(field="state", message=_("Only a failed delivery can be replayed."))
    Delivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.RECEIVED, next_attempt_at=None
    )
    event_record(
        event_type="delivery.replayed",
        subject=delivery.connection,
        actor=actor,
        payload={"delivery_id": delivery.pk, "error": delivery.error[:300]},
    )
    transaction.on_commit(deliveries_wake)
    delivery.state = DeliveryState.RECEIVED
    return delivery
