"""Consent at send time: unsubscribe links and headers, suppression, quiet hours, a frequency cap.

Marketing email needs the recipient identity's consent to be `granted`; anything
else ends the row `suppressed` with the reason (never a silent drop). Quiet hours
and the frequency cap defer marketing mail (`deferred_until`) instead of dropping it.
Transactional mail (receipts, shipping notices) needs no marketing consent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count, Min
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.messaging.models import Channel, Message, MessageKind, MessageState

if TYPE_CHECKING:
    from procedo.business.models import Business

SALT = "procedo.messaging.unsubscribe"
# Quiet hours and the cap are the business's settings (`Business.quiet_hours_*`,
# `Business.marketing_cap_*`), edited on the business settings page.


def unsubscribe_token(address: str) -> str:
    # Unsigned links would let anyone unsubscribe anyone; no expiry, because a
    # link in an old newsletter must still work (the law expects it to).
    return signing.dumps(address.strip().lower(), salt=SALT, compress=False)


def unsubscribe_url(address: str) -> str:
    return f"{settings.PROCEDO_BASE_URL}/messages/unsubscribe/{unsubscribe_token(address)}/"


def unsubscribe_address(token: str) -> str:
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise DomainError(field="token", message=_("This unsubscribe link is not valid.")) from None
    if not isinstance(value, str):
        raise DomainError(field="token", message=_("This unsubscribe link is not valid."))
    return value


def unsubscribe_apply(*, token: str) -> str:
    """Deny marketing consent for the link's address (through the customers service)."""
    from procedo.customers.models import ConsentState, Identity, IdentityKind
    from procedo.customers.services.identities import consent_set

    address = unsubscribe_address(token)
    identity = Identity.objects.filter(kind=IdentityKind.EMAIL, value=address).first()
    if identity is not None:
        # consent_set writes nothing when it is already denied: a second click is harmless.
        with transaction.atomic():
            consent_set(
                customer_id=identity.customer_id,
                identity_id=identity.pk,
                state=ConsentState.DENIED,
                source="unsubscribe link",
                actor=None,
            )
    # An address that is no customer's identity has no consent to withdraw, and
    # marketing mail needs a granted consent, so it gets none either way.
    return address


def unsubscribe_headers(message: Message) -> dict[str, str]:
    if message.kind != MessageKind.MARKETING or message.channel != Channel.EMAIL:
        return {}
    # RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" to the URL.
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(message.recipient)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _consents(rows: list[Message]) -> dict[str, str]:
    """The marketing consent of each recipient of a batch, in one query."""
    from procedo.customers.models import Identity

    kind = "email" if rows[0].channel == Channel.EMAIL else "phone"
    return dict(
        Identity.objects.filter(
            kind=kind, value__in={m.recipient.strip().lower() for m in rows}
        ).values_list("value", "marketing_consent")
    )


def _quiet_until(business: Business, now: datetime) -> datetime | None:
    start, end = business.quiet_hours_start, business.quiet_hours_end
    if start is None or end is None or start == end:  # no quiet hours
        return None
    zone = business.zone
    local = now.astimezone(zone)
    clock = local.time()
    # 21:00–09:00 wraps midnight; 13:00–14:00 does not.
    quiet = (clock >= start or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)


def _capped(business: Business, rows: list[Message], now: datetime) -> dict[int, datetime]:
    """Rows over the per-customer cap, with the time the oldest counted message leaves the window.

    Counted: marketing mail sent in the window, and rows of this batch let through
    before this one (they go out with it).
    """
    cap = business.marketing_cap_count
    customers = {m.customer_id for m in rows if m.customer_id is not None}
    if cap <= 0 or not customers:
        return {}
    window = timedelta(days=business.marketing_cap_days)
    counted = {
        row["customer_id"]: (row["n"], row["oldest"])
        for row in Message.objects.filter(
            customer_id__in=customers,
            kind=MessageKind.MARKETING,
            state=MessageState.SENT,
            sent_at__gte=now - window,
        )
        .values("customer_id")
        .annotate(n=Count("id"), oldest=Min("sent_at"))
    }
    capped: dict[int, datetime] = {}
    passed: dict[int, int] = {}
    for message in rows:
        if message.customer_id is None:
            continue
        sent, oldest = counted.get(message.customer_id, (0, None))
        ahead = passed.get(message.customer_id, 0)
        if sent + ahead >= cap:
            capped[message.pk] = (oldest or now) + window
        else:
            passed[message.customer_id] = ahead + 1
    return capped


def _move(rows: list[Message], token: str, **fields: Any) -> int:
    return Message.objects.filter(
        pk__in=[m.pk for m in rows], claim_token=token, state=MessageState.SENDING
    ).update(claim_token="", claimed_until=None, **fields)


def _suppression_reason(consent: str | None) -> str | None:
    if consent == "granted":
        return None
    if consent == "denied":
        return "unsubscribed or refused marketing"
    if consent is not None:
        return "no marketing consent"
    return "not a customer's identity: no marketing consent"


def marketing_gate(rows: list[Message], token: str, now: datetime) -> set[int]:
    """Runs on every claimed batch before it is sent; returns the ids of rows it moved.

    A few queries per batch, whatever its size: consents, the business settings,
    the cap's counts; then one UPDATE per outcome.
    """
    from procedo.business.selectors import business_get

    marketing = [m for m in rows if m.kind == MessageKind.MARKETING]
    if not marketing:
        return set()
    consents = _consents(marketing)
    suppressed: dict[str, list[Message]] = {}
    allowed: list[Message] = []
    for message in marketing:
        reason = _suppression_reason(consents.get(message.recipient.strip().lower()))
        if reason is None:
            allowed.append(message)
        else:
            suppressed.setdefault(reason, []).append(message)
    moved = {m.pk for group in suppressed.values() for m in group}
    if suppressed:
        with transaction.atomic():
            events: list[NewEvent] = []
            for reason, group in suppressed.items():
                _move(group, token, state=MessageState.SUPPRESSED, reason=reason)
                events.extend(
                    NewEvent(
                        event_type="message.suppressed",
                        subject_type="message",
                        subject_id=m.pk,
                        customer_id=m.customer_id,
                        payload={"reason": reason},
                        occurred_at=now,
                    )
                    for m in group
                )
            events_record_many(events)
    if not allowed:
        return moved
    business = business_get()
    quiet = _quiet_until(business, now)
    if quiet is not None:
        _move(allowed, token, state=MessageState.QUEUED, deferred_until=quiet, reason="quiet hours")
        return moved | {m.pk for m in allowed}
    capped = _capped(business, allowed, now)
    by_time: dict[datetime, list[Message]] = {}
    for message in allowed:
        if message.pk in capped:
            by_time.setdefault(capped[message.pk], []).append(message)
    for until, group in by_time.items():
        _move(group, token, state=MessageState.QUEUED, deferred_until=until, reason="frequency cap")
    return moved | set(capped)
