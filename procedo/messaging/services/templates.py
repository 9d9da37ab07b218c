"""Saving and previewing stored message templates."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.messaging import rendering
from procedo.messaging.models import Channel, MessageKind, Template
from procedo.messaging.services.composing import message_context


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
    actor: Actor = None,
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
