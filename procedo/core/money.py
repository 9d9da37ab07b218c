"""Money is a Decimal with its currency beside it: how Procedo checks it and shows it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry
from django.utils.formats import get_format
from django.utils.translation import gettext as _

from procedo.core.bounds import MAX_AMOUNT
from procedo.core.errors import DomainError

# Minor units per ISO 4217 where they are not 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "HUF": 2, "KWD": 3, "BHD": 3}
_SYMBOLS = {"UAH": "₴", "USD": "$", "EUR": "€", "GBP": "£", "PLN": "zł"}


@lru_cache(maxsize=64)
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def money_quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def money_format(
    amount: Decimal | int | str | None, currency: str, *, zero_cents: bool = True
) -> str:
    """`1234.5, "UAH"` -> `1 234.50 ₴` (`1 234,50 ₴` in Ukrainian): thin-space thousands,
    the reader's decimal mark, the symbol after the number. `zero_cents=False` leaves
    them off a whole amount: `1 500 ₴` (a chart's axis)."""
    if amount is None:
        return "—"
    value = money_quantize(Decimal(amount), currency)
    sign = "−" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    if not zero_cents and not fraction.strip("0"):
        fraction = ""
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    mark = get_format("DECIMAL_SEPARATOR")
    number = "\u202f".join(groups) + (f"{mark}{fraction}" if fraction else "")
    return f"{sign}{number}\u00a0{currency_symbol(currency)}"


def currency_symbol(currency: str) -> str:
    return _SYMBOLS.get(currency.upper(), currency.upper())


# ISO 4217 codes that are not money a shop takes: precious metals, testing, none.
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)


# Money columns keep two decimal places; a currency with three minor units
# (KWD, BHD) would be rounded by the database, so it is refused up front.
MAX_MINOR_UNITS = 2


def currency_clean(currency: str, *, field: str = "currency") -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise DomainError(field=field, message=_("A currency is a three-letter ISO code."))
    if pycountry.currencies.get(alpha_3=code) is None or code in _NOT_MONEY:
        raise DomainError(
            field=field,
            message=_("%(code)s is not a currency (ISO 4217).") % {"code": code},
        )
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
    if value > MAX_AMOUNT:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("At most %(max)s.") % {"max": money_format(MAX_AMOUNT, currency)},
        )
    return money_quantize(value, currency)
