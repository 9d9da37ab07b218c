"""Every write to webhooks, and the sending of their deliveries.

The event log feeds them (`deliveries_make`, a consumer in strict order per
subject): each event a subscription hears becomes one Delivery row, UNIQUE per
(subscription, event), so a batch read again after a crash makes nothing new. The
worker then sends each delivery until it is answered with a 2xx, retrying with
exponential backoff and jitter for RETRY_PERIOD, one delivery at a time per subject
and subscription. See docs/webhooks.md.
"""

from __future__ import annotations

import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor, actor_person
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.collab.services import notify
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.texts import LaterText
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.outbound import signing
from procedo.outbound.addresses import url_check
from procedo.outbound.catalog import EVENT_TYPES, TEST_EVENT, subject_data
from procedo.outbound.models import (
    ERROR_MAX,
    NAME_MAX,
    Delivery,
    DeliveryState,
    Subscription,
    SubscriptionState,
)

logger = logging.getLogger(__name__)

SUBJECT_TYPE = "webhook"  # the subject of the log's webhook events
RETRY_PERIOD = timedelta(hours=24)
RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=2)
TIMEOUT_SECONDS = 10
# Longer than an attempt can take: a worker that died mid-send lets go of it after this.
CLAIM = timedelta(seconds=TIMEOUT_SECONDS * 6)
SEND_BATCH = 50
REASON_MAX = 300

_encoder = DjangoJSONEncoder(ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- subscriptions


def _name_check(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise DomainError(field="name", message=_("Give the webhook a name."))
    if len(name) > NAME_MAX:
        raise DomainError(
            field="name",
            code="too_large",
            message=_("A name has at most %(max)s characters.") % {"max": NAME_MAX},
        )
    return name


def _event_types_check(event_types: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for event_type in event_types:
        if event_type not in EVENT_TYPES:
            raise DomainError(
                field="event_types",
                message=_("Procedo records no event %(type)s.") % {"type": event_type},
            )
        if event_type not in chosen:
            chosen.append(event_type)
    if not chosen:
        raise DomainError(field="event_types", message=_("Choose at least one event."))
    return [key for key in EVENT_TYPES if key in chosen]


def _record(subscription: Subscription, event_type: str, actor: Actor, **payload: Any) -> None:
    event_record(
        event_type=event_type,
        subject_type=SUBJECT_TYPE,
        subject_id=subscription.pk,
        actor=actor,
        payload={"name": subscription.name, **payload},
    )


@idempotent("webhook.create", replay=lambda pk: Subscription.objects.get(pk=pk))
@transaction.atomic
def subscription_create(
    *,
    name: str,
    url: str,
    event_types: Sequence[str],
    actor: Actor,
    idempotency_key: str | None = None,
) -> Subscription:
    """A new webhook, active at once; its secret is on the returned row (shown once)."""
    subscription = Subscription.objects.create(
        name=_name_check(name),
        url=url_check(url),
        event_types=_event_types_check(event_types),
        secret=signing.secret_new(),
        owner=actor_person(actor),
    )
    _record(
        subscription,
        "webhook.created",
        actor,
        url=subscription.url,
        event_types=subscription.event_types,
    )
    subscription.first_event_id = Event.objects.aggregate(last=Max("id"))["last"] or 0
    subscription.save(update_fields=["first_event_id"])
    return subscription


def _subscription(subscription_id: int) -> Subscription:
    found = Subscription.objects.filter(pk=subscription_id).first()
    if found is None:
        raise NotFound(
            field="subscription_id",
            message=_("No webhook with id %(id)s.") % {"id": subscription_id},
        )
    return found


@transaction.atomic
def subscription_update(
    *, subscription_id: int, name: str, url: str, event_types: Sequence[str], actor: Actor
) -> Subscription:
    subscription = _subscription(subscription_id)
    values = {
        "name": _name_check(name),
        "url": url_check(url),
        "event_types": _event_types_check(event_types),
    }
    changes = {k: v for k, v in values.items() if getattr(subscription, k) != v}
    if not changes:
        return subscription
    for key, value in changes.items():
        setattr(subscription, key, value)
    subscription.save(update_fields=[*changes, "updated_at"])
    _record(subscription, "webhook.updated", actor, changes=changes)
    return subscription


def _reason_check(reason: str) -> str:
    reason = " ".join(reason.split())
    if len(reason) > REASON_MAX:
        raise DomainError(
            field="reason",
            code="too_large",
            message=_("At most %(max)s characters.") % {"max": REASON_MAX},
        )
    return reason


@transaction.atomic
def subscription_pause(
    *, subscription_id: int, actor: Actor, reason: str = "", why: LaterText | None = None
) -> Subscription:
    """Stop sending; events go on being queued for it and are sent after a resume.

    `reason` is a person's words; `why`, Procedo's own (read in each reader's language).
    """
    reason = _reason_check(reason)
    if not reason:
        why = why or LaterText(gettext_noop("Paused by hand."))
        reason = why.render_in(settings.LANGUAGE_CODE)[:ERROR_MAX]
    stored = why.stored() if why else None
    subscription = _subscription(subscription_id)
    changed = Subscription.objects.filter(
        pk=subscription.pk, state=SubscriptionState.ACTIVE
    ).update(
        state=SubscriptionState.PAUSED,
        paused_reason=reason,
        paused_reason_text=stored,
        updated_at=timezone.now(),
    )
    if changed:  # a second pause (a double click, a second failed delivery) changes nothing
        subscription.state = SubscriptionState.PAUSED
        subscription.paused_reason, subscription.paused_reason_text = reason, stored
        _record(subscription, "webhook.paused", actor, reason=reason)
    return subscription


@transaction.atomic
def subscription_resume(*, subscription_id: int, actor: Actor) -> Subscription:
    """Send again: what was queued meanwhile goes first, with a fresh retry period."""
    subscription = _subscription(subscription_id)
    now = timezone.now()
    changed = Subscription.objects.filter(
        pk=subscription.pk, state=SubscriptionState.PAUSED
    ).update(
        state=SubscriptionState.ACTIVE, paused_reason="", paused_reason_text=None, updated_at=now
    )
    if changed:
        waiting = Delivery.objects.filter(subscription=subscription, state=DeliveryState.PENDING)
        count = waiting.update(period_started_at=now, next_attempt_at=now)
        subscription.state, subscription.paused_reason = SubscriptionState.ACTIVE, ""
        subscription.paused_reason_text = None
        _record(subscription, "webhook.resumed", actor, waiting=count)
        _wake_sender_on_commit()
    return subscription


# ---------------------------------------------------------------- deliveries: made from the log


def _body(event: Event, data: dict[str, Any] | None) -> str:
    return _encoder.encode(
        {
            "id": str(event.pk),
            "type": event.event_type,
            "occurred_at": event.occurred_at,
            "subject": {"type": event.subject_type or None, "id": event.subject_id},
            "payload": event.payload,
            "data": data,
        }
    )


def deliveries_make(events: Sequence[Event]) -> None:
    """The consumer: one delivery per event and subscription that hears it.

    Paused subscriptions get theirs too (sent after a resume): a pause loses nothing.
    The body is written now, with the subject as it is now, and every attempt sends
    those bytes.
    """
    heard = [event for event in events if event.event_type in EVENT_TYPES]
    if not heard:
        return
    subscriptions = list(Subscription.objects.only("pk", "event_types", "first_event_id"))
    rows: list[Delivery] = []
    data: dict[tuple[str, int | None], dict[str, Any] | None] = {}
    now = timezone.now()
    for event in heard:
        listeners = [
            s
            for s in subscriptions
            if event.event_type in s.event_types and event.pk > s.first_event_id
        ]
        if not listeners:
            continue
        key = (event.subject_type, event.subject_id)
        if key not in data:
            data[key] = subject_data(event.subject_type, event.subject_id)
        body = _body(event, data[key])
        rows += [
            Delivery(
                subscription_id=subscription.pk,
                event=event,
                event_type=event.event_type,
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                body=body,
                period_started_at=now,
                next_attempt_at=now,
                created_at=now,
            )
            for subscription in listeners
        ]
    if rows:
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        _wake_sender_on_commit()


@idempotent("webhook.send_test", replay=lambda pk: Delivery.objects.get(pk=pk))
@transaction.atomic
def subscription_send_test(
    *, subscription_id: int, actor: Actor, idempotency_key: str | None = None
) -> Delivery:
    """A test event to this webhook alone, signed and sent like any other."""
    subscription = _subscription(subscription_id)
    if subscription.state != SubscriptionState.ACTIVE:
        # It would wait, unseen, until a resume.
        raise Conflict(
            field="state", message=_("This webhook is paused; resume it to send a test.")
        )
    marker = f"webhook-test:{uuid.uuid4().hex}"
    event_record(
        event_type=TEST_EVENT,
        subject_type=SUBJECT_TYPE,
        subject_id=subscription.pk,
        actor=actor,
        payload={"name": subscription.name},
        idempotency_key=marker,
    )
    event = Event.objects.get(idempotency_key=marker)
    message = _("A test from Procedo: if you read this, the webhook works.")
    delivery = Delivery.objects.create(
        subscription=subscription,
        event=event,
        event_type=event.event_type,
        subject_type=event.subject_type,
        subject_id=event.subject_id,
        body=_body(event, {"message": message}),
        next_attempt_at=event.occurred_at,
        period_started_at=event.occurred_at,
    )
    _wake_sender_on_commit()
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery_id: int, actor: Actor) -> Delivery:
    """Send a delivery again, with the same id and body; one still waiting is left as it is."""
    delivery = Delivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(
            field="delivery_id", message=_("No delivery with id %(id)s.") % {"id": delivery_id}
        )
    now = timezone.now()
    changed = (
        Delivery.objects.filter(pk=delivery.pk)
        .exclude(state=DeliveryState.PENDING)
        .update(
            state=DeliveryState.PENDING,
            period_started_at=now,
            next_attempt_at=now,
            claimed_until=None,
        )
    )
    if changed:
        delivery.refresh_from_db()
        _record(
            delivery.subscription,
            "webhook.redelivery_asked",
            actor,
            delivery=str(delivery.uid),
            event_id=delivery.event_id,
        )
        _wake_sender_on_commit()
    return delivery


# ---------------------------------------------------------------- deliveries: sent by the worker


def _wake_sender_on_commit() -> None:
    def wake() -> None:
        from procedo.outbound.tasks import deliveries_send

        deliveries_send()

    transaction.on_commit(wake, robust=True)


def retry_delay(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failure: doubling from RETRY_FIRST up to RETRY_CAP,
    half of it random, so receivers coming back up are not hit by every sender at once."""
    full = min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20), RETRY_CAP)
    return full / 2 + full / 2 * random.random()


def _earlier_pending() -> Exists:
    return Exists(
        Delivery.objects.filter(
            subscription=OuterRef("subscription"),
            subject_type=OuterRef("subject_type"),
            subject_id=OuterRef("subject_id"),
            state=DeliveryState.PENDING,
            id__lt=OuterRef("id"),
        )
    )


def deliveries_due(*, now: datetime, limit: int = SEND_BATCH) -> list[int]:
    """Deliveries to send now: the first waiting one of each subject, of active webhooks."""
    return list(
        Delivery.objects.filter(
            state=DeliveryState.PENDING,
            subscription__state=SubscriptionState.ACTIVE,
            next_attempt_at__lte=now,
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(_earlier_pending())
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


@dataclass(frozen=True)
class Answer:
    code: int | None
    error: str  # why there is no code: the network's or the address check's words

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead the worker to an address the check refused; it is an answer.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _post(delivery: Delivery, subscription: Subscription) -> Answer:
    try:
        url = url_check(subscription.url)
    except DomainError as exc:
        return Answer(None, exc.message)  # the address was changed, or its name now points home
    body = delivery.body.encode()
    request = urllib.request.Request(  # noqa: S310 (http and https only: url_check)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Procedo-Webhooks/1",
            # Signed at each attempt: the receiver may refuse an old timestamp (a replay).
            signing.SIGNATURE_HEADER: signing.signature_header(
                body, timestamp=int(time.time()), secret=subscription.secret
            ),
            signing.EVENT_ID_HEADER: str(delivery.event_id),
            signing.DELIVERY_ID_HEADER: str(delivery.uid),
            signing.EVENT_TYPE_HEADER: delivery.event_type,
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
            return Answer(response.status, "")
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, "")
    except (urllib.error.URLError, OSError) as exc:
        return Answer(None, str(getattr(exc, "reason", exc)))


def _owners_of(subscription: Subscription) -> list[int]:
    if subscription.owner_id and subscription.owner and subscription.owner.is_active:
        return [subscription.owner_id]
    return list(User.objects.filter(role=Role.OWNER, is_active=True).values_list("pk", flat=True))


def _gave_up(delivery: Delivery, subscription: Subscription) -> None:
    """The retry period is over: the delivery failed, and the webhook pauses until a person
    looks (its owner is told), rather than piling up more failures."""
    why = LaterText(
        gettext_noop("Delivery of event %(event)s failed for %(hours)s hours: %(error)s"),
        {
            "event": delivery.event_id,
            "hours": int(RETRY_PERIOD.total_seconds() // 3600),
            "error": delivery.problem_text() or "",
        },
    )
    reason = why.render_in(settings.LANGUAGE_CODE)
    _record(
        subscription,
        "webhook.delivery_failed",
        None,
        delivery=str(delivery.uid),
        event_id=delivery.event_id,
        error=delivery.error,
    )
    subscription_pause(subscription_id=subscription.pk, actor=None, why=why)
    notify(
        recipient_ids=_owners_of(subscription),
        kind="webhook_paused",
        # Read later, each reader in their own language.
        title=LaterText(
            gettext_noop("Webhook “%(name)s” is paused: its deliveries fail"),
            {"name": subscription.name},
        ),
        body=reason,
        url=reverse("outbound:detail", args=[subscription.pk]),
        subject_type=SUBJECT_TYPE,
        subject_id=subscription.pk,
        key=f"webhook:{subscription.pk}:failed:{delivery.uid}:{delivery.attempts}",
    )


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> Delivery | None:
    """Send one delivery once; None if another worker holds it or it is not waiting.

    Called outside any transaction: the HTTP request must not hold a database lock.
    The claim is a compare-and-set with a time limit, so two workers never send it
    at once and a worker that dies mid-send leaves it to be sent again, same id.
    """
    now = now or timezone.now()
    claimed = (
        Delivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("subscription__owner").get(pk=delivery_id)
    subscription = delivery.subscription
    answer = _post(delivery, subscription)
    with transaction.atomic():
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.claimed_until = now, None
        delivery.response_code, delivery.error = answer.code, answer.error[:ERROR_MAX]
        if answer.ok:
            delivery.state, delivery.delivered_at, delivery.next_attempt_at = (
                DeliveryState.DELIVERED,
                now,
                None,
            )
        elif now >= delivery.period_started_at + RETRY_PERIOD:
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
        else:
            deadline = delivery.period_started_at + RETRY_PERIOD
            delivery.next_attempt_at = min(now + retry_delay(delivery.attempts), deadline)
        delivery.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "claimed_until",
                "response_code",
                "error",
                "state",
                "delivered_at",
                "next_attempt_at",
            ]
        )
        if delivery.state == DeliveryState.FAILED:
            _gave_up(delivery, subscription)
    if not answer.ok:
        logger.warning(
            "webhook %s: delivery %s of event %s, attempt %s: %s",
            subscription.pk,
            delivery.uid,
            delivery.event_id,
            delivery.attempts,
            answer.code or answer.error,
        )
    return delivery


def deliveries_send_due(*, now: datetime | None = None, rounds: int = 20) -> int:
    """Send what is due, round after round (a subject's next delivery is due once the one
    before it is answered), until nothing is due or `rounds` ran; returns the attempts."""
    sent = 0
    for _round in range(rounds):
        due = deliveries_due(now=now or timezone.now())
        if not due:
            break
        for delivery_id in due:
            if delivery_attempt(delivery_id=delivery_id, now=now) is not None:
                sent += 1
    return sent
