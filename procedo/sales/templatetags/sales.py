from __future__ import annotations

from typing import Any

from django import template

from procedo.accounts.permissions import user_can

register = template.Library()


@register.simple_tag(takes_context=True)
def can(context: Any, permission: str) -> bool:
    """{% can "sales.configure" as configure %}: whether the reader's role allows it."""
    request = context.get("request")
    return user_can(getattr(request, "user", None), permission)
