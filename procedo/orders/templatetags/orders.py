"""What order templates ask of the person reading them."""

from __future__ import annotations

from typing import Any

from django import template

from procedo.accounts.permissions import user_can

register = template.Library()


@register.filter(name="can")
def can(user: Any, permission: str) -> bool:
    """`{% if request.user|can:"orders.change" %}`: a section another app renders has no
    view of its own to say what the reader may do."""
    return user_can(user, permission)
