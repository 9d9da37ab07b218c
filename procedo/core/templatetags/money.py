from __future__ import annotations

from decimal import Decimal

from django import template

from procedo.core.money import money_format

register = template.Library()


@register.filter(name="money")
def money_filter(amount: Decimal | None, currency: str) -> str:
    """{{ order.total|money:order.currency }}"""
    return money_format(amount, currency)
