from __future__ import annotations

from decimal import Decimal

import pytest

from procedo.core.errors import DomainError
from procedo.orders.totals import PricedLine, order_totals

D = Decimal


def test_totals_add_rounded_lines_then_discount_and_shipping() -> None:
    totals = order_totals(
        lines=[
            PricedLine(quantity=3, unit_price=D("33.333"), discount=D("0")),
            PricedLine(quantity=2, unit_price=D("250.00"), discount=D("50.00")),
        ],
        currency="UAH",
        order_discount=D("10.00"),
        shipping=D("70.00"),
    )
    assert totals.line_totals == (D("100.00"), D("450.00"))
    assert totals.subtotal == D("600.00")
    assert totals.discount_total == D("60.00")
    assert totals.shipping_total == D("70.00")
    assert totals.total == D("610.00")
    assert sum(totals.line_totals) - D("10.00") + totals.shipping_total == totals.total


def test_totals_round_to_the_currency() -> None:
    yen = order_totals(lines=[PricedLine(quantity=3, unit_price=D("99.5"))], currency="JPY")
    assert yen.total == D("299") and yen.total.as_tuple().exponent == 0
    half = order_totals(lines=[PricedLine(quantity=1, unit_price=D("0.125"))], currency="EUR")
    assert half.total == D("0.13")  # half up, not banker's


@pytest.mark.parametrize(
    ("line", "order_discount", "shipping", "field"),
    [
        (PricedLine(quantity=0, unit_price=D("1")), D("0"), D("0"), "lines.0.quantity"),
        (
            PricedLine(quantity=1, unit_price=D("10"), discount=D("11")),
            D("0"),
            D("0"),
            "lines.0.discount",
        ),
        (PricedLine(quantity=1, unit_price=D("10"), discount=D("5")), D("6"), D("0"), "discount"),
        (PricedLine(quantity=1, unit_price=D("10")), D("0"), D("-1"), "shipping"),
        (PricedLine(quantity=1, unit_price=D("-10")), D("0"), D("0"), "lines.0.unit_price"),
    ],
)
def test_totals_refuse_what_would_go_negative(
    line: PricedLine, order_discount: Decimal, shipping: Decimal, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        order_totals(lines=[line], currency="UAH", order_discount=order_discount, shipping=shipping)
    assert caught.value.field == field
