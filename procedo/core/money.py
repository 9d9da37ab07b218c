"""Money is a Decimal with its currency beside it; this is how Procedo shows it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

# Minor units per ISO 4217 where they are not 2.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "HUF": 2, "KWD": 3, "BHD": 3}
_SYMBOLS = {"UAH": "₴", "USD": "$", "EUR": "€", "GBP": "£", "PLN": "zł"}


@lru_cache(maxsize=64)
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-_MINOR_UNITS.get(currency.upper(), 2))


def money_quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def money_format(amount: Decimal | int | str | None, currency: str) -> str:
    """`1234.5, "UAH"` -> `1 234.50 ₴`: thin-space thousands, the symbol after the number."""
    if amount is None:
        return "—"
    value = money_quantize(Decimal(amount), currency)
    sign = "−" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    number = "\u202f".join(groups) + (f".{fraction}" if fraction else "")
    symbol = _SYMBOLS.get(currency.upper(), currency.upper())
    return f"{sign}{number}\u00a0{symbol}"
