"""Connections (managed by people) and deliveries (stored first, processed by the worker)."""

from __future__ import annotations

import hashlib
import logging
import secrets as token_source
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotency_claim
from procedo.core.texts import LaterText, later_text_read
from procedo.events import wakeups
from procedo.events.services import event_record
from procedo.integrations import signatures
from procedo.integrations.models import Connection, Delivery, DeliveryState, Platform
from procedo.integrations.platforms import PLATFORMS
from procedo.integrations.secrets import secret_decrypt, secret_encrypt, secret_hint

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; Shopify's and Stripe's largest payloads are well under this
SECRET_MAX = 500
# A failed delivery is tried again after 1, 2, 4 … minutes, up to about a day in all;
# then it waits for a person's replay. A delivery that waits for another (a refund for
# its order) is also tried again as soon as one of the same connection is processed.
MAX_ATTEMPTS = 12
# Headers that say who sent the request to us, not what the platform sent: not kept.
_HEADERS_DROPPED = frozenset({"Cookie", "Authorization"})


# ---------------------------------------------------------------- connections


def _clean(name: str, account: str, secret: str | None) -> tuple[str, str]:
    name, account = " ".join(name.split()), account.strip()
    if not name or len(name) > 100:
        raise DomainError(
            field="name", message=_("Give the connection a name (up to 100 characters).")
        )
    if len(account) > 200:
        raise DomainError(field="account", code="too_large", message=_("At most 200 characters."))
    if secret is not None and not (1 <= len(secret.strip()) <= SECRET_MAX):
        raise DomainError(
            field="secret",
            message=_("Paste the secret or key from the platform (up to 500 characters)."),
        )
    return name, account


def _api_key(api_key: str | None) -> dict[str, str]:
    """The encrypted API key and its hint; an empty key removes the stored one."""
    if api_key is None:
        return {}
    api_key = api_key.strip()
    if len(api_key) > SECRET_MAX:
        raise DomainError(field="api_key", code="too_large", message=_("At most 500 characters."))
    if not api_key:
        return {"api_key_encrypted": "", "api_key_hint": ""}
    return {"api_key_encrypted": secret_encrypt(api_key), "api_key_hint": secret_hint(api_key)}


@transaction.atomic
def connection_create(
    *, platform: str, name: str, account: str, secret: str, actor: Actor, api_key: str = ""
) -> Connection:
    if platform not in Platform.values:
        raise DomainError(field="platform", message=_("Unknown platform %(p)s.") % {"p": platform})
    name, account = _clean(name, account, secret)
    secret = secret.strip()
    connection = Connection.objects.create(
        platform=platform,
        name=name,
        account=account,
        key=token_source.token_urlsafe(16),
        secret_encrypted=secret_encrypt(secret),
        secret_hint=secret_hint(secret),
        **_api_key(api_key),
        created_by_id=actor_id_of(actor),
    )
    event_record(
        event_type="connection.created",
        subject=connection,
        actor=actor,
        payload={"platform": platform, "name": name},
    )
    return connection


@transaction.atomic
def connection_update(
    *,
    connection_id: int,
    actor: Actor,
    name: str | None = None,
    account: str | None = None,
    secret: str | None = None,
    api_key: str | None = None,
    active: bool | None = None,
) -> Connection:
    """Change what is given; a new secret replaces the old one (which is never shown)."""
    connection = Connection.objects.select_for_update().filter(pk=connection_id).first()
    if connection is None:
        raise NotFound(field="connection_id", message=_("No such connection."))
    secret = secret.strip() if secret else None
    new_name, new_account = _clean(
        connection.name if name is None else name,
        connection.account if account is None else account,
        secret,
    )
    changed: list[str] = []
    for attribute, value in (("name", new_name), ("account", new_account), ("active", active)):
        if value is not None and getattr(connection, attribute) != value:
            setattr(connection, attribute, value)
            changed.append(attribute)
    if secret:
        connection.secret_encrypted, connection.secret_hint = (
            secret_encrypt(secret),
            secret_hint(secret),
        )
        changed.append("secret")
    if api_key:
        for name, value in _api_key(api_key).items():
            setattr(connection, name, value)
        changed.append("api_key")
    if not changed:
        return connection
    connection.save()
    event_record(
        event_type="connection.updated",
        subject=connection,
        actor=actor,
        payload={"changed": changed},
    )
    return connection


# ---------------------------------------------------------------- receiving


@dataclass(frozen=True)
class Receipt:
    """What the hook answers: the status code and a short reason for the platform's log."""

    status: int
    detail: str
    field: str = ""
    delivery_id: int | None = None


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: value[:2000] for name, value in headers.items() if name not in _HEADERS_DROPPED}


def delivery_receive(
    *, platform: str, key: str, headers: Mapping[str, str], body: bytes, content_type: str
) -> Receipt:
    """Verify and store one delivery, in this order: what cannot be tied to a connection is
    refused with nothing kept; a bad signature is kept as rejected (for diagnosis) and is a
    401; a signed body is kept before anything else is said about it, so whatever the
    answer, nothing signed is lost. Processing is the worker's (delivery_process)."""
    # Two columns, no model and no ORDER BY: this runs for every delivery (make bench, B1).
    found = (
        Connection.objects.filter(key=key[:32], platform=platform, active=True)
        .order_by()
        .values_list("pk", "secret_encrypted")
        .first()
    )
    if found is None or platform not in PLATFORMS:
        return Receipt(404, _("No active connection at this address."), "connection")
    connection_id, secret_encrypted = found
    spec = PLATFORMS[platform]
    headers = CaseInsensitiveMapping(headers)  # X-WC-Webhook-… arrives as X-Wc-Webhook-…
    kept = _kept_headers(headers)
    secret = secret_decrypt(secret_encrypted)
    verdict = (
        signatures.verify(platform, secret, headers, body)
        if secret is not None
        else signatures.Verdict(
            False, gettext_noop("The stored secret cannot be read; enter it again.")
        )
    )
    if not verdict.ok:
        # What the headers alone say (Shopify's topic and webhook id), for the diagnosis.
        topic, event_id = spec.describe(headers, None)
        with transaction.atomic():
            rejected = Delivery.objects.create(
                connection_id=connection_id,
                headers=kept,
                body=body,
                topic=topic[:100],
                event_id=event_id[:200],
                state=DeliveryState.REJECTED,
                error=verdict.text.render_in("en"),
                error_field="signature",
                error_text=verdict.text.stored(),
            )
        return Receipt(401, _("The signature does not match."), "signature", rejected.pk)
    payload = spec.decode(body)
    topic, event_id = spec.describe(headers, payload) if payload is not None else ("", "")
    wrong_type = content_type.split(";")[0].strip().lower() != spec.content_type
    unreadable_text = LaterText(
        gettext_noop("The body is not %(type)s."), {"type": spec.content_type}
    )
    unreadable = unreadable_text.render()
    with transaction.atomic():
        delivery = Delivery.objects.create(
            connection_id=connection_id,
            headers=kept,
            body=body,
            topic=topic[:100],
            # No id from the platform: the body's digest still finds a byte-identical repeat.
            event_id=(event_id or "sha256:" + hashlib.sha256(body).hexdigest())[:200],
            state=DeliveryState.FAILED if payload is None or wrong_type else DeliveryState.RECEIVED,
            error=unreadable if payload is None or wrong_type else "",
            error_text=unreadable_text.stored() if payload is None or wrong_type else None,
            error_field=("Content-Type" if wrong_type else "body")
            if payload is None or wrong_type
            else "",
        )
        if delivery.state == DeliveryState.RECEIVED:
            transaction.on_commit(_wake)
    if wrong_type:
        return Receipt(415, unreadable, "Content-Type", delivery.pk)
    if payload is None:
        return Receipt(400, unreadable, "body", delivery.pk)
    return Receipt(202, _("Stored; it will be processed shortly."), "", delivery.pk)


def _wake() -> None:
    from procedo.integrations.tasks import deliveries_process

    try:
        wakeups.wake(deliveries_process)
    except Exception:
        # The delivery is stored; the minute's sweep (deliveries_tick) takes it up.
        logger.exception("could not wake the worker for deliveries")


# ---------------------------------------------------------------- processing


def _retry_at(attempts: int, now: datetime) -> datetime | None:
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(minutes=2 ** (attempts - 1))


def _finish(delivery: Delivery, **fields: Any) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


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
        _finish(delivery, state=DeliveryState.FAILED, next_attempt_at=None)
        return delivery
    first = (
        Delivery.objects.filter(
            connection=connection, event_id=delivery.event_id, state=DeliveryState.PROCESSED
        )
        .exclude(pk=delivery.pk)
        .order_by("id")
        .first()
    )
    if first is not None:
        _finish(
            delivery,
            state=DeliveryState.PROCESSED,
            duplicate_of=first,
            error="",
            processed_at=now,
            next_attempt_at=None,
        )
        return delivery
    try:
        with transaction.atomic():
            claim = idempotency_claim(
                key=f"hook:{connection.pk}:{delivery.event_id}"[:200],
                actor=None,
                operation="integrations.delivery",
                request={"connection": connection.pk, "event_id": delivery.event_id},
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
        attempts = delivery.attempts + 1
        _finish(
            delivery,
            state=DeliveryState.FAILED,
            error=exc.message[:1000],
            error_field=exc.field[:100],
            error_text=later.stored() if (later := getattr(exc, "later", None)) else None,
            attempts=attempts,
            next_attempt_at=_retry_at(attempts, now),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        # A payload the mapping did not expect: kept failed with the reason, never retried
        # blindly (the same bytes fail the same way); a person replays it after a fix.
        _finish(
            delivery,
            state=DeliveryState.FAILED,
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
    waiting = Delivery.objects.filter(state=DeliveryState.RECEIVED)
    due = Delivery.objects.filter(state=DeliveryState.FAILED, next_attempt_at__lte=now)
    if connection_id is not None:
        waiting, due = (
            waiting.filter(connection_id=connection_id),
            due.filter(connection_id=connection_id),
        )
    queue = sorted(
        {*waiting.values_list("id", flat=True)[:500], *due.values_list("id", flat=True)[:500]}
    )
    while queue:
        progressed = False
        connections: set[int] = set()
        for delivery_id in queue:
            delivery = delivery_process(delivery_id=delivery_id)
            if delivery.state == DeliveryState.PROCESSED:
                processed += 1
                progressed = True
                connections.add(delivery.connection_id)
        if not progressed:
            break
        # What failed may have waited for what just went in (a refund for its order).
        queue = list(
            Delivery.objects.filter(
                state=DeliveryState.FAILED,
                connection_id__in=connections,
                next_attempt_at__isnull=False,
            )
            .order_by("id")
            .values_list("id", flat=True)[:500]
        )
    return processed


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
    transaction.on_commit(_wake)
    delivery.state = DeliveryState.RECEIVED
    return delivery
