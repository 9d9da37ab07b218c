"""The one place an order's money is computed: a pure function, no database, no rounding drift.

Every line is rounded to the currency once (its amount and its total); the
order's figures are sums of rounded lines, so the lines always add up to the
subtotal a customer sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from procedo.core.bounds import MAX_ORDER_TOTAL
from procedo.core.errors import DomainError
from procedo.core.money import money_format, money_quantize

ZERO = Decimal("0")


@dataclass(frozen=True)
class PricedLine:
    quantity: int
    unit_price: Decimal
    discount: Decimal = ZERO  # off this line, in money, not per unit


@dataclass(frozen=True)
class OrderTotals:
    line_totals: tuple[Decimal, ...]
    subtotal: Decimal  # before any discount
    discount_total: Decimal  # line discounts plus the order's own discount
    shipping_total: Decimal
    total: Decimal


def order_totals(
    *,
    lines: Sequence[PricedLine],
    currency: str,
    order_discount: Decimal = ZERO,
    shipping: Decimal = ZERO,
) -> OrderTotals:
    """subtotal − line discounts − order discount + shipping, each rounded to the currency.

    Refuses a discount larger than what it discounts, so a total is never negative.
    """
    line_totals = []
    subtotal = ZERO
    line_discounts = ZERO
    for i, line in enumerate(lines):
        if line.quantity <= 0:
            raise DomainError(
                field=f"lines.{i}.quantity", message=_("A quantity must be above zero.")
            )
        amount = money_quantize(line.unit_price * line.quantity, currency)
        discount = money_quantize(line.discount, currency)
        if line.unit_price < 0 or discount < 0:
            raise DomainError(
                field=f"lines.{i}.unit_price", message=_("Prices cannot be negative.")
            )
        if discount > amount:
            raise DomainError(
                field=f"lines.{i}.discount",
                message=_("The discount is larger than the line (%(amount)s).")
                % {"amount": amount},
            )
        line_totals.append(amount - discount)
        subtotal += amount
        line_discounts += discount
    order_discount = money_quantize(order_discount, currency)
    shipping = money_quantize(shipping, currency)
    if order_discount < 0:
        raise DomainError(field="discount", message=_("A discount cannot be negative."))
    if shipping < 0:
        raise DomainError(field="shipping", message=_("Shipping cannot be negative."))
    if order_discount > subtotal - line_discounts:
        raise DomainError(
            field="discount",
            message=_("The discount is larger than the goods (%(amount)s).")
            % {"amount": subtotal - line_discounts},
        )
    discount_total = line_discounts + order_discount
    total = subtotal - discount_total + shipping
    if max(subtotal, total) > MAX_ORDER_TOTAL:
        # Beyond this a customer's lifetime value could overflow its column and every
        # list showing it would fail: refused here, whatever sent it.
        raise DomainError(
            field="lines",
            code="too_large",
            message=_("An order's total is at most %(max)s.")
            % {"max": money_format(MAX_ORDER_TOTAL, currency)},
        )
    return OrderTotals(
        line_totals=tuple(line_totals),
        subtotal=subtotal,
        discount_total=discount_total,
        shipping_total=shipping,
        total=total,
    )
