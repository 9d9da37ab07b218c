"""{% comments_panel "order" order.pk %} on any card; {% notification_bell %} in the top bar."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from procedo.collab import selectors
from procedo.collab.mentions import comment_html
from procedo.collab.models import Comment
from procedo.collab.panel import panel_context

register = template.Library()


@register.inclusion_tag("collab/_panel.html", takes_context=True)
def comments_panel(context: template.Context, subject_type: str, subject_id: Any) -> dict[str, Any]:
    """The thread on a subject and the form to add to it (posted with htmx, swapped in place)."""
    user = context.get("user") or getattr(context.get("request"), "user", None)
    return panel_context(user=user, subject_type=str(subject_type), subject_id=int(subject_id))


@register.inclusion_tag("collab/_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    user = context.get("user") or getattr(context.get("request"), "user", None)
    counts = selectors.notifications_unread_counts(user=user)
    return {"unread": counts.unread, "urgent": counts.urgent, "with_styles": True}


@register.simple_tag
def comment_body(comment: Comment) -> SafeString:
    """The comment's text escaped, with line breaks and its @mentions highlighted."""
    return comment_html(comment.body, comment.mentions or [])
