from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html, format_html_join

from procedo.events.models import Event
from procedo.events.registry import consumer_get

register = template.Library()


@register.simple_tag
def event_payload(event: Event) -> str:
    """The payload as short key: value pairs, for timelines and the log."""
    payload: dict[str, Any] = event.payload or {}
    if not payload:
        return ""
    return format_html_join(
        " ",
        '<span class="kv"><span class="k">{}</span> {}</span>',
        ((key, _short(value)) for key, value in payload.items()),
    )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


@register.simple_tag
def event_actor(event: Event) -> str:
    if event.actor_id and event.actor is not None:
        return format_html("{}", str(event.actor))
    return event.actor_label or "system"


@register.simple_tag
def consumer_label(name: str) -> str:
    """The consumer in words ("SOP automation"); its name if it registered no label."""
    consumer = consumer_get(name)
    return str(consumer.label) if consumer is not None and consumer.label else name
