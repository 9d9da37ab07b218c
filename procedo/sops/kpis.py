"""The KPI catalog: what an SOP may be written to move. The analytics issue measures them."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str | Promise
    unit: str | Promise
    higher_is_better: bool
    # "Repeat-purchase rate within N days" needs its N; the others do not.
    needs_window: bool = False


KPIS: dict[str, Kpi] = {
    kpi.code: kpi
    for kpi in (
        Kpi("repeat_purchase_rate", _("Repeat-purchase rate within N days"), "%", True, True),
        Kpi("order_confirmation_time", _("Order confirmation time"), _("minutes"), False),
        Kpi("delivery_rate", _("Delivery rate"), "%", True),
        Kpi("reactivation_rate", _("Reactivation rate"), "%", True),
        Kpi("lead_response_time", _("Lead response time"), _("minutes"), False),
    )
}


def kpi_choices() -> list[tuple[str, str | Promise]]:
    return [(kpi.code, kpi.label) for kpi in KPIS.values()]
