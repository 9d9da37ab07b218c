"""Writing to the outbound ledger. A key already in the ledger returns its message: never two."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError, NotFound
from procedo.events.services import event_record
from procedo.messaging import rendering
from procedo.messaging.models import Channel, Message, MessageKind, Template


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
    if channel == Channel.SMS:
        from procedo.messaging.sms import e164_require

        recipient = e164_require(recipient)
    if not body and template_key:
        template = Template.objects.filter(key=template_key).first()
        if template is None:
            raise NotFound(
                field="template_key", message=_("No template %(k)s.") % {"k": template_key}
            )
        kind = kind or template.kind
        variables = message_context(
            customer_id=customer_id, order_id=order_id, recipient=recipient, extra=context
        )
        rendered = rendering.render(
            subject=template.subject,
            body_text=template.body_text,
            body_html=template.body_html if channel == Channel.EMAIL else "",
            context=variables,
        )
        subject, body, body_html = rendered.subject, rendered.body_text, rendered.body_html
    if not body.strip():
        raise DomainError(field="body", message=_("A message needs a text."))
    kind = kind or MessageKind.TRANSACTIONAL
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


def message_context(
    *,
    customer_id: int | None,
    order_id: int | None = None,
    recipient: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of a stored template for one customer (and order)."""
    from procedo.core.selectors import business_get
    from procedo.customers.models import Customer
    from procedo.orders.models import Order

    context: dict[str, Any] = {"business": {"name": business_get().name}}
    if customer_id is not None:
        customer = Customer.objects.prefetch_related("identities").filter(pk=customer_id).first()
        if customer is None:
            raise NotFound(
                field="customer_id", message=_("No customer %(id)s.") % {"id": customer_id}
            )
        context["customer"] = rendering.customer_context(customer)
    if order_id is not None:
        order = (
            Order.objects.select_related("status")
            .prefetch_related("lines")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise NotFound(field="order_id", message=_("No order %(id)s.") % {"id": order_id})
        context["order"] = rendering.order_context(order)
    if recipient and "@" in recipient:
        from procedo.messaging.unsubscribe import unsubscribe_url

        context["unsubscribe_url"] = unsubscribe_url(recipient)
    context.update(extra or {})
    return context


def _template_clean(
    *, key: str, name: str, channel: str, kind: str, subject: str, body_text: str, body_html: str
) -> dict[str, str]:
    key = slugify(key.strip())[:80]
    if not key:
        raise DomainError(field="key", message=_("A template needs a key (letters, digits, -)."))
    if not name.strip():
        raise DomainError(field="name", message=_("A template needs a name."))
    if channel not in Channel.values:
        raise DomainError(field="channel", message=_("No channel %(c)s.") % {"c": channel})
    if kind not in MessageKind.values:
        raise DomainError(field="kind", message=_("No message kind %(k)s.") % {"k": kind})
    if not body_text.strip():
        raise DomainError(field="body_text", message=_("A template needs a text."))
    if channel == Channel.EMAIL and not subject.strip():
        raise DomainError(field="subject", message=_("An email needs a subject."))
    if channel == Channel.SMS:
        subject, body_html = "", ""
    # A syntax error or an unknown variable is refused now, naming the line,
    # rather than found when the first customer's mail fails to render.
    rendering.render(
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        context=rendering.sample_context(),
    )
    return {
        "key": key,
        "name": name.strip()[:200],
        "channel": channel,
        "kind": kind,
        "subject": subject.strip()[:300],
        "body_text": body_text,
        "body_html": body_html,
    }


@transaction.atomic
def template_save(
    *,
    template_id: int | None,
    key: str,
    name: str,
    channel: str,
    kind: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    actor: Any = None,
) -> Template:
    """Create (template_id None) or change a template; refused if it does not render."""
    values = _template_clean(
        key=key,
        name=name,
        channel=channel,
        kind=kind,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
    )
    others = Template.objects.filter(key=values["key"])
    if template_id is not None:
        others = others.exclude(pk=template_id)
    clash = others.exists()
    if clash:
        raise DomainError(field="key", message=_("Another template has the key %(key)s.") % values)
    if template_id is None:
        template = Template(**values)
        try:
            with transaction.atomic():
                template.save(force_insert=True)
        except IntegrityError:
            raise DomainError(
                field="key", message=_("Another template has the key %(key)s.") % values
            ) from None
        event_type = "template.created"
    else:
        found = Template.objects.filter(pk=template_id).first()
        if found is None:
            raise NotFound(
                field="template_id", message=_("No template %(id)s.") % {"id": template_id}
            )
        template = found
        for name_, value in values.items():
            setattr(template, name_, value)
        template.updated_at = timezone.now()
        template.save()
        event_type = "template.changed"
    event_record(
        event_type=event_type, subject=template, actor=actor, payload={"key": template.key}
    )
    return template


def template_preview(
    *,
    channel: str,
    subject: str,
    body_text: str,
    body_html: str = "",
    customer_id: int | None = None,
    order_id: int | None = None,
) -> rendering.Rendered:
    """Render unsaved text for a real customer (and order); samples fill what is missing."""
    sample = rendering.sample_context()
    real = message_context(customer_id=customer_id, order_id=order_id)
    context = {**sample, **real}
    if channel == Channel.SMS:
        subject, body_html = "", ""
    return rendering.render(
        subject=subject, body_text=body_text, body_html=body_html, context=context
    )
