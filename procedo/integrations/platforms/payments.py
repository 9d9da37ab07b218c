"""What payment providers share: finding the Procedo order a payment names."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError
from procedo.integrations.platforms.common import NotYet, refusal
from procedo.orders.models import Order


def order_by_number(number: str, *, field: str) -> Order:
    """The order whose Procedo number the payment carries (the store passes it when it asks
    the provider for a payment); one not known yet waits, as its order may be on its way."""
    number = (number or "").strip()
    if not number:
        raise DomainError(
            field=field, message=_("The payment names no order (%(f)s).") % {"f": field}
        )
    order = Order.objects.select_related("status").filter(number=number[:40]).first()
    if order is None:
        raise refusal(NotYet, field, gettext_noop("No order %(n)s (yet)."), n=number)
    return order


def currency_check(order: Order, currency: str) -> None:
    if currency.upper() != order.currency:
        raise DomainError(
            field="currency",
            message=_("The payment is in %(paid)s, order %(n)s in %(order)s.")
            % {"paid": currency.upper(), "n": order.number, "order": order.currency},
        )
