"""The period a page's numbers are about: a preset, or days picked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from procedo.analytics.kpis import Kpi, kpi_choices
from procedo.analytics.selectors import MAX_WINDOW_DAYS, ROLLED_UP
from procedo.analytics.series import COMPARISONS, channel_choices
from procedo.core.bounds import EARLIEST_YEAR, LATEST_YEAR, SHORT_TEXT
from procedo.core.forms import FormTokenMixin

PRESETS: dict[str, tuple[Any, int]] = {
    "7": (_("Last 7 days"), 7),
    "30": (_("Last 30 days"), 30),
    "90": (_("Last 90 days"), 90),
    "365": (_("Last 365 days"), 365),
}


class PeriodForm(forms.Form):
    days = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[(key, label) for key, (label, _days) in PRESETS.items()]
        + [("custom", _("Days I pick"))],
    )
    first = forms.DateField(
        label=pgettext_lazy("period", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    last = forms.DateField(
        label=pgettext_lazy("period", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("first", "last"):
            value = data.get(name)
            if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
                self.add_error(name, _("Give a date between %(first)s and %(last)s.") % {
                    "first": EARLIEST_YEAR, "last": LATEST_YEAR})  # fmt: skip
        if data.get("days") == "custom" or (data.get("first") and data.get("last")):
            if not data.get("first"):
                self.add_error("first", _("Pick the first day."))
            if not data.get("last"):
                self.add_error("last", _("Pick the last day."))
        else:
            days = PRESETS.get(data.get("days") or "30", PRESETS["30"])[1]
            data["first"] = self.today - timedelta(days=days - 1)
            data["last"] = self.today
        return data


class GoalForm(FormTokenMixin):
    name = forms.CharField(
        label=_("Aim"),
        max_length=SHORT_TEXT,
        help_text=_('What the business wants, in its own words: "More customers buy again".'),
    )
    kpi = forms.ChoiceField(label=_("KPI"), choices=kpi_choices)
    kpi_window_days = forms.IntegerField(
        label=_("Within N days"),
        required=False,
        min_value=1,
        max_value=MAX_WINDOW_DAYS,
        help_text=_("For a KPI counted within N days; empty takes its usual window."),
    )
    target = forms.DecimalField(
        label=_("Target"), max_digits=14, decimal_places=2, help_text=_("In the KPI's unit.")
    )
    deadline = forms.DateField(label=_("Deadline"), widget=forms.DateInput(attrs={"type": "date"}))
    focus_reason = forms.CharField(
        label=_("Why another goal"),
        required=False,
        max_length=300,
        help_text=_("Needed when three goals are active already."),
    )


class KpiForm(PeriodForm):
    """A KPI's page: the period, what to compare it with, a channel where the KPI has one."""

    compare = forms.ChoiceField(
        label=_("Compare with"),
        required=False,
        choices=list(COMPARISONS.items()),
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    window = forms.IntegerField(
        label=_("Within N days"), required=False, min_value=1, max_value=MAX_WINDOW_DAYS
    )

    def __init__(self, *args: Any, kpi: Kpi, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kpi.code in ROLLED_UP:
            channel = self.fields["channel"]
            assert isinstance(channel, forms.ChoiceField)
            channel.choices = [("", _("All channels")), *channel_choices()]
        else:
            del self.fields["channel"]
        if not kpi.has_window:
            del self.fields["window"]
        else:
            self.fields["window"].widget.attrs["placeholder"] = str(kpi.default_window)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["compare"] = data.get("compare") or "before"
        return data
