"""Checks of money input shared by the catalog and orders: a Decimal and an ISO currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.core.money import money_quantize

# Money columns keep two decimal places; a currency with three minor units
# (KWD, BHD) would be rounded by the database, so it is refused up front.
MAX_MINOR_UNITS = 2


def currency_clean(currency: str, *, field: str = "currency") -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise DomainError(field=field, message=_("A currency is a three-letter ISO code."))
    if -money_quantize(Decimal(1), code).as_tuple().exponent > MAX_MINOR_UNITS:  # type: ignore[operator]
        raise DomainError(
            field=field,
            message=_("Currencies with more than two decimal places are not supported."),
        )
    return code


def amount_clean(amount: Any, currency: str, *, field: str, positive: bool = False) -> Decimal:
    """A non-negative Decimal with no more digits than `currency` has; floats are refused."""
    if isinstance(amount, float | bool):
        raise DomainError(field=field, message=_("Send money as a decimal string, not a float."))
    try:
        value = Decimal(str(amount).strip()) if isinstance(amount, str) else Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise DomainError(field=field, message=_("Enter an amount such as 12.50.")) from None
    if not value.is_finite():
        raise DomainError(field=field, message=_("Enter an amount such as 12.50."))
    if value < 0 or (positive and value == 0):
        message = (
            _("The amount must be above zero.") if positive else _("The amount cannot be negative.")
        )
        raise DomainError(field=field, message=message)
    if money_quantize(value, currency) != value:
        raise DomainError(
            field=field,
            message=_("%(amount)s has more decimal places than %(currency)s allows.")
            % {"amount": value, "currency": currency},
        )
    if value >= Decimal("1e12"):
        raise DomainError(field=field, message=_("The amount is too large."))
    return money_quantize(value, currency)
