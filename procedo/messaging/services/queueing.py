"""Writing to the outbound ledger. A key already in the ledger returns its message: never two."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.business.selectors import business_language
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import NewEvent, event_record, events_record_many
from procedo.messaging import registry, rendering
from procedo.messaging.models import Channel, Message, MessageKind, MessageState, Template
from procedo.messaging.services._common import _unsubscribe_line_ensured
from procedo.messaging.services.composing import message_compose


def _from_domain(from_email: str) -> str:
    address = from_email.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] or "localhost"


def message_id_new(from_email: str) -> str:
    return f"<{uuid.uuid4().hex}@{_from_domain(from_email)}>"


@transaction.atomic
def message_queue(
    *,
    channel: str,
    recipient: str,
    body: str,
    idempotency_key: str,
    subject: str = "",
    customer_id: int | None = None,
    template_key: str = "",
    source: str = "",
    kind: str = "",
    body_html: str = "",
    order_id: int | None = None,
    context: dict[str, Any] | None = None,
) -> Message:
    """Put a message in the ledger as `queued`; the worker sends it after commit.

    With `body` empty and `template_key` naming a stored template, the template is
    rendered here for the customer (and order), with `context` adding variables
    such as `discount_code`; its kind is the template's unless `kind` is given.
    What this adds for the customer (the variables, the unsubscribe line) is in the
    business's language, whoever queues it; a refusal is in the caller's.
    """
    if channel not in Channel.values:
        raise DomainError(field="channel", message=_("No channel %(c)s.") % {"c": channel})
    if kind and kind not in MessageKind.values:
        raise DomainError(field="kind", message=_("No message kind %(k)s.") % {"k": kind})
    if not recipient.strip():
        raise DomainError(field="recipient", message=_("A message needs a recipient."))
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    recipient = recipient_clean(channel, recipient)
    if not body and template_key:
        composed = message_compose(
            channel=channel,
            customer_id=customer_id,
            order_id=order_id,
            recipient=recipient,
            template_key=template_key,
            kind=kind,
            context=context,
        )
        subject, body, body_html = composed.subject, composed.body, composed.body_html
        kind = composed.kind
    if not body.strip():
        raise DomainError(field="body", message=_("A message needs a text."))
    kind = kind or MessageKind.TRANSACTIONAL
    if kind == MessageKind.MARKETING and channel == Channel.EMAIL:
        body = _unsubscribe_line_ensured(body, recipient)
    from_email = settings.DEFAULT_FROM_EMAIL if channel == Channel.EMAIL else ""
    message = Message(
        channel=channel,
        kind=kind,
        recipient=recipient.strip()[:254],
        customer_id=customer_id,
        template_key=template_key,
        from_email=from_email,
        subject=subject[:300],
        body=body,
        body_html=body_html,
        message_id=message_id_new(from_email) if channel == Channel.EMAIL else "",
        source=source[:80],
        idempotency_key=idempotency_key,
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        # A twin (another worker) committed the same key first: its row is the message.
        return Message.objects.get(idempotency_key=idempotency_key)
    _wake_sender_on_commit()
    event_record(
        event_type="message.queued",
        subject=message,
        customer_id=customer_id,
        payload={"channel": channel, "kind": kind, "to": message.recipient, "source": source},
    )
    return message


def recipient_clean(channel: str, recipient: str, *, field: str = "recipient") -> str:
    """An email address as the server will get it, or a phone number in E.164; else refused."""
    recipient = recipient.strip()
    if channel == Channel.SMS:
        from procedo.messaging.sms import e164_require

        return e164_require(recipient, field=field)
    try:
        validate_email(recipient)
    except ValidationError:
        raise DomainError(
            field=field,
            message=_("%(a)s is not an email address.") % {"a": recipient or "''"},
        ) from None
    return recipient


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch (`messages_queue_many`)."""

    recipient: str
    idempotency_key: str
    customer_id: int | None = None
    subject: str = ""
    body: str = ""
    body_html: str = ""
    context: dict[str, Any] | None = None


CHUNK = 1000


@transaction.atomic
def messages_queue_many(
    *,
    channel: str,
    kind: str,
    items: Iterable[Outgoing],
    source: str = "",
    template_key: str = "",
) -> int:
    """Queue a campaign-sized batch: multi-row INSERTs, one `message.queued` event per new row.

    Keys already in the ledger are skipped (ON CONFLICT DO NOTHING), so a campaign
    started twice queues each recipient once. With `template_key`, each item with an
    empty body is rendered for its customer (customers fetched per chunk, not per row).
    A bad recipient refuses the whole batch naming its position (`items.<n>.recipient`):
    the caller leaves it out and tries again; nothing is half-queued.
    Returns the number of rows queued now.
    """
    if channel not in Channel.values:
        raise DomainError(field="channel", message=_("No channel %(c)s.") % {"c": channel})
    if kind not in MessageKind.values:
        raise DomainError(field="kind", message=_("No message kind %(k)s.") % {"k": kind})
    template = None
    if template_key:
        template = Template.objects.filter(key=template_key).first()
        if template is None:
            raise NotFound(
                field="template_key", message=_("No template %(k)s.") % {"k": template_key}
            )
    from_email = settings.DEFAULT_FROM_EMAIL if channel == Channel.EMAIL else ""
    # The rows this call inserted are those stamped with its own time: a twin call
    # racing on the same keys has another stamp, and writes the events of its rows.
    stamp = timezone.now()
    queued = 0
    chunk: list[tuple[int, Outgoing]] = []

    def flush() -> None:
        nonlocal queued
        keys = [item.idempotency_key for _n, item in chunk]
        known = set(
            Message.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        fresh = [(n, item) for n, item in chunk if item.idempotency_key not in known]
        chunk.clear()
        if not fresh:
            return
        rendered = {}
        if template is not None:
            with translation.override(business_language()):  # the words the store writes
                rendered = _render_many(channel, template, fresh)
        rows = []
        for n, item in fresh:
            subject, body, body_html = rendered.get(n, (item.subject, item.body, item.body_html))
            if not body.strip():
                raise DomainError(field=f"items.{n}.body", message=_("A message needs a text."))
            rows.append(
                Message(
                    channel=channel,
                    kind=kind,
                    recipient=recipient_clean(
                        channel, item.recipient, field=f"items.{n}.recipient"
                    )[:254],
                    customer_id=item.customer_id,
                    template_key=template_key,
                    from_email=from_email,
                    subject=subject[:300],
                    body=body,
                    body_html=body_html,
                    message_id=message_id_new(from_email) if channel == Channel.EMAIL else "",
                    source=source[:80],
                    idempotency_key=item.idempotency_key,
                    created_at=stamp,
                )
            )
        Message.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        mine = Message.objects.filter(
            idempotency_key__in=[row.idempotency_key for row in rows], created_at=stamp
        ).values_list("pk", "customer_id", "recipient")
        count = events_record_many(
            NewEvent(
                event_type="message.queued",
                subject_type="message",
                subject_id=pk,
                customer_id=customer_id,
                payload={"channel": channel, "kind": kind, "to": to, "source": source},
            )
            for pk, customer_id, to in mine
        )
        queued += count

    for n, item in enumerate(items):
        chunk.append((n, item))
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()
    if queued:
        _wake_sender_on_commit()
    return queued


def _render_many(
    channel: str, template: Template, items: list[tuple[int, Outgoing]]
) -> dict[int, tuple[str, str, str]]:
    from procedo.business.selectors import business_get
    from procedo.customers.models import Customer

    ids = {item.customer_id for _n, item in items if item.customer_id is not None}
    customers = {
        c.pk: rendering.customer_context(c)
        for c in Customer.objects.prefetch_related("identities").filter(pk__in=ids)
    }
    business = {"name": business_get().name}
    variables = registry.customer_variables_of(list(customers))
    out: dict[int, tuple[str, str, str]] = {}
    for n, item in items:
        if item.body:
            continue
        context: dict[str, Any] = {"business": business, **registry.customer_variables_empty()}
        if item.customer_id is not None:
            if item.customer_id not in customers:
                raise NotFound(
                    field=f"items.{n}.customer_id",
                    message=_("No customer %(id)s.") % {"id": item.customer_id},
                )
            found = dict(variables[item.customer_id])
            context["customer"] = {**customers[item.customer_id], **found.pop("customer")}
            context.update(found)
        if channel == Channel.EMAIL and "@" in item.recipient:
            from procedo.messaging.services.unsubscribe import unsubscribe_url

            context["unsubscribe_url"] = unsubscribe_url(item.recipient)
        context.update(item.context or {})
        result = rendering.render(
            subject=template.subject,
            body_text=template.body_text,
            body_html=template.body_html if channel == Channel.EMAIL else "",
            context=context,
        )
        out[n] = (result.subject, result.body_text, result.body_html)
    return out


@idempotent("message.mark_sent", replay=lambda pk: Message.objects.get(pk=pk))
@transaction.atomic
def message_mark_sent(
    *, message_id: int, actor: Actor, idempotency_key: str | None = None
) -> Message:
    """A person checked that an `unknown` message arrived (asked the customer, read the log).

    Again on a message already `sent` changes nothing: the answer is the same.
    """
    message = _message_for_decision(message_id)
    if message.state == MessageState.SENT:
        return message
    now = timezone.now()
    fields = {
        "state": MessageState.SENT,
        # When it went to the server or provider, as near as the ledger knows.
        "sent_at": message.handed_over_at or now,
        "deferred_until": None,
        "reason": f"marked sent by {_actor_name(actor)}"[:200],
    }
    return _decide(message, actor, "message.marked_sent", fields, idempotency_key)


@idempotent("message.resend", replay=lambda pk: Message.objects.get(pk=pk))
@transaction.atomic
def message_resend(*, message_id: int, actor: Actor, idempotency_key: str | None = None) -> Message:
    """A person chose to send an `unknown` message again: queued now, recorded with who chose.

    The only way an SMS or a marketing email leaves `unknown` for another attempt:
    the customer may get it twice, and a person decided that is better than never.
    An email keeps its Message-ID.
    """
    message = _message_for_decision(message_id)
    fields = {
        "state": MessageState.QUEUED,
        "handed_over_at": None,
        "deferred_until": None,
        "reason": f"sent again at the request of {_actor_name(actor)}"[:200],
    }
    message = _decide(message, actor, "message.resend_requested", fields, idempotency_key)
    _wake_sender_on_commit()
    return message


def _message_for_decision(message_id: int) -> Message:
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        raise NotFound(field="message_id", message=_("No message %(id)s.") % {"id": message_id})
    return message


def _decide(
    message: Message,
    actor: Actor,
    event_type: str,
    fields: dict[str, Any],
    idempotency_key: str | None,
) -> Message:
    if message.state != MessageState.UNKNOWN:
        raise Conflict(
            field="state",
            message=_(
                "Only a message whose outcome is unknown waits for a decision; it is %(state)s."
            )
            % {"state": message.get_state_display().lower()},
        )
    # Compare-and-set: the sender's recovery (which re-queues transactional email)
    # or another person deciding at the same moment shows as 0 rows.
    changed = Message.objects.filter(pk=message.pk, state=MessageState.UNKNOWN).update(
        claim_token="", claimed_until=None, **fields
    )
    if changed != 1:
        raise Conflict(field="state", message=_("The message changed meanwhile; reload the page."))
    event_record(
        event_type=event_type,
        subject=message,
        customer_id=message.customer_id,
        actor=actor,
        payload={"channel": message.channel, "kind": message.kind, "answer": message.answer[:200]},
        idempotency_key=idempotency_key,
    )
    message.refresh_from_db()
    return message


def _actor_name(actor: Actor) -> str:
    name = actor.get_username() if actor is not None and hasattr(actor, "get_username") else ""
    return name or "a person"


def _wake_sender_on_commit() -> None:
    # A sooner start only: `messages_tick` sends whatever a lost wake-up left queued.
    # With an eager Huey (tests, PROCEDO_DEBUG) the task would run inside the caller
    # (a web request, the SOP executor): sending never happens there, so the tick does it.
    if settings.HUEY.get("immediate"):
        return
    # Registered just before event_record's own wake-up, so in a transaction that
    # queues many messages the tail is always [ours, the log's] and each is added once.
    pending = connection.run_on_commit
    if any(entry[1] is _wake_sender for entry in pending[-2:]):
        return
    transaction.on_commit(_wake_sender, robust=True)


def _wake_sender() -> None:
    from procedo.messaging.tasks import messages_dispatch

    messages_dispatch()


def messages_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's messages become the survivor's."""
    return Message.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
