"""A message's subject and body: from a stored template or a step's own text, rendered
for one customer (and order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from procedo.business.selectors import business_language
from procedo.core.errors import NotFound
from procedo.messaging import registry, rendering
from procedo.messaging.models import Channel, MessageKind, Template
from procedo.messaging.services._common import _unsubscribe_line_ensured


@dataclass(frozen=True)
class Composed:
    """A message as its recipient reads it, before it is queued."""

    subject: str
    body: str
    body_html: str
    kind: str  # transactional or marketing


def message_compose(
    *,
    channel: str,
    customer_id: int | None,
    order_id: int | None = None,
    recipient: str = "",
    template_key: str = "",
    subject: str = "",
    body: str = "",
    kind: str = "",
    context: dict[str, Any] | None = None,
) -> Composed:
    """Render a stored template (`template_key`) or a `subject` and `body` written in place for
    one customer (and order), as the customer will get it: the variables of `message_context`,
    the business's language, and a marketing email's unsubscribe line.

    The one way an SOP's message is written, whether the engine queues it or the SOP's page
    shows it for a sample customer; a template that cannot be written raises DomainError
    naming the field and line.
    """
    with translation.override(business_language()):
        html = ""
        if template_key:
            template = Template.objects.filter(key=template_key).first()
            if template is None:
                raise NotFound(
                    field="template_key", message=_("No template %(k)s.") % {"k": template_key}
                )
            kind = kind or template.kind
            subject, body = template.subject, template.body_text
            html = template.body_html if channel == Channel.EMAIL else ""
        variables = message_context(
            customer_id=customer_id, order_id=order_id, recipient=recipient, extra=context
        )
        rendered = rendering.render(
            subject=subject, body_text=body, body_html=html, context=variables
        )
        kind = kind or MessageKind.TRANSACTIONAL
        text = rendered.body_text
        if kind == MessageKind.MARKETING and channel == Channel.EMAIL and "@" in recipient:
            text = _unsubscribe_line_ensured(text, recipient)
        return Composed(
            subject=rendered.subject if channel == Channel.EMAIL else "",
            body=text,
            body_html=rendered.body_html,
            kind=kind,
        )


def message_context(
    *,
    customer_id: int | None,
    order_id: int | None = None,
    recipient: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables of a stored template for one customer (and order)."""
    from procedo.business.selectors import business_get
    from procedo.customers.models import Customer
    from procedo.orders.models import Order

    context: dict[str, Any] = {"business": {"name": business_get().name}}
    context.update(registry.customer_variables_empty())
    if customer_id is not None:
        customer = Customer.objects.prefetch_related("identities").filter(pk=customer_id).first()
        if customer is None:
            raise NotFound(
                field="customer_id", message=_("No customer %(id)s.") % {"id": customer_id}
            )
        context["customer"] = rendering.customer_context(customer)
        found = registry.customer_variables_of([customer_id])[customer_id]
        context["customer"].update(found.pop("customer"))
        context.update(found)
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
        from procedo.messaging.services.unsubscribe import unsubscribe_url

        context["unsubscribe_url"] = unsubscribe_url(recipient)
    context.update(extra or {})
    return context
