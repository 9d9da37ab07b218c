"""A KPI's value as a person reads it, in the reader's language (pages, charts, verdicts)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from procedo.analytics.kpis import KPIS, Unit
from procedo.core.money import money_format


def kpi_value(value: Decimal | None, unit: str, currency: str) -> str:
    """A KPI's value as a person reads it: money in the business's currency, a rate in
    percent, a duration in minutes or hours, with the reader's decimal mark."""
    if value is None:
        return "—"
    if unit == Unit.MONEY:
        return money_format(value, currency)
    if unit == Unit.PERCENT:
        return _("%(n)s %%") % {"n": number_format(value, 1, use_l10n=True)}
    if unit == Unit.MINUTES:
        return _("%(n)s min") % {"n": number_format(value, 0, use_l10n=True)}
    if unit == Unit.HOURS:
        return _("%(n)s h") % {"n": number_format(value, 1, use_l10n=True)}
    decimals = 0 if value == value.to_integral_value() else 1
    return number_format(value, decimals, use_l10n=True, force_grouping=True)


def kpi_change(change: Decimal | None) -> str:
    if change is None:
        return ""
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return f"{sign}{number_format(abs(change), 1, use_l10n=True)} %"


def kpi_target_text(kpi_code: str, target: Decimal | None, *, currency: str) -> str:
    """An SOP's or a goal's target written in its KPI's unit ("25.0 %", "15 min", "1 200.00 ₴");
    empty when there is none. `currency` is the business's (read once per page, not per row)."""
    if target is None or kpi_code not in KPIS:
        return ""
    return kpi_value(Decimal(target), KPIS[kpi_code].unit, currency)


def kpi_axis_label(unit: str, currency: str) -> Callable[[float], str]:
    """A chart's value axis in the KPI's unit, as short as it reads: "1 500 ₴", "25 %"."""

    def label(value: float) -> str:
        if unit == Unit.MONEY:  # grouped as the money beside the chart is
            return money_format(Decimal(str(value)), currency, zero_cents=False)
        decimals = 0 if float(value).is_integer() else 1
        number = number_format(round(value, decimals), decimals, use_l10n=True, force_grouping=True)
        if unit == Unit.PERCENT:
            return _("%(n)s %%") % {"n": number}
        if unit == Unit.MINUTES:
            return _("%(n)s min") % {"n": number}
        if unit == Unit.HOURS:
            return _("%(n)s h") % {"n": number}
        return number

    return label
