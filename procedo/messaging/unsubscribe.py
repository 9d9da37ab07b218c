"""Consent at send time: unsubscribe links and headers, suppression, quiet hours, a frequency cap.

Marketing email needs the recipient identity's consent to be `granted`; anything
else ends the row `suppressed` with the reason (never a silent drop). Quiet hours
and the frequency cap defer marketing mail (`deferred_until`) instead of dropping it.
Transactional mail (receipts, shipping notices) needs no marketing consent.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.events.services import event_record
from procedo.messaging.models import Channel, Message, MessageKind, MessageState

SALT = "procedo.messaging.unsubscribe"
# Marketing mail is not sent between these hours of the business's own clock.
QUIET_START = time(21, 0)
QUIET_END = time(9, 0)
# At most this many marketing messages per customer in this window.
CAP_COUNT = 2
CAP_WINDOW = timedelta(days=1)


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
    from procedo.customers.services import consent_set

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


def _consent_of(message: Message) -> str | None:
    from procedo.customers.models import Identity

    kind = "email" if message.channel == Channel.EMAIL else "phone"
    return (
        Identity.objects.filter(kind=kind, value=message.recipient.strip().lower())
        .values_list("marketing_consent", flat=True)
        .first()
    )


def _quiet_until(now: datetime) -> datetime | None:
    from procedo.core.selectors import business_get

    if QUIET_START == QUIET_END:  # no quiet hours
        return None
    zone = business_get().zone
    local = now.astimezone(zone)
    clock = local.time()
    if clock >= QUIET_START or clock < QUIET_END:
        day = local.date() if clock < QUIET_END else local.date() + timedelta(days=1)
        return datetime.combine(day, QUIET_END, tzinfo=zone)
    return None


def _capped_until(message: Message, now: datetime) -> datetime | None:
    if message.customer_id is None:
        return None
    marketing = Message.objects.filter(customer_id=message.customer_id, kind=MessageKind.MARKETING)
    sent = list(
        marketing.filter(state=MessageState.SENT, sent_at__gte=now - CAP_WINDOW)
        .order_by("sent_at")
        .values_list("sent_at", flat=True)[:CAP_COUNT]
    )
    # Rows of this batch that passed the gate before this one go out with it.
    in_batch = marketing.filter(
        state=MessageState.SENDING, claim_token=message.claim_token, id__lt=message.pk
    ).count()
    if len(sent) + in_batch < CAP_COUNT:
        return None
    oldest = sent[0] if sent and sent[0] is not None else now
    return oldest + CAP_WINDOW


def _move(message: Message, now: datetime, **fields: Any) -> bool:
    changed = Message.objects.filter(
        pk=message.pk, claim_token=message.claim_token, state=MessageState.SENDING
    ).update(claim_token="", claimed_until=None, **fields)
    return changed == 1


def marketing_gate(message: Message, now: datetime) -> str | None:
    """Runs on every claimed row before it is sent; returns the state it moved the row to."""
    if message.kind != MessageKind.MARKETING:
        return None
    consent = _consent_of(message)
    if consent != "granted":
        reason = (
            "unsubscribed or refused marketing"
            if consent == "denied"
            else "no marketing consent"
            if consent is not None
            else "not a customer's identity: no marketing consent"
        )
        with transaction.atomic():
            if _move(message, now, state=MessageState.SUPPRESSED, reason=reason):
                event_record(
                    event_type="message.suppressed",
                    subject=message,
                    customer_id=message.customer_id,
                    payload={"reason": reason},
                )
        return MessageState.SUPPRESSED
    for until, reason in (
        (_quiet_until(now), "quiet hours"),
        (_capped_until(message, now), "frequency cap"),
    ):
        if until is not None:
            _move(message, now, state=MessageState.QUEUED, deferred_until=until, reason=reason)
            return MessageState.QUEUED
    return None
