"""An SOP's own fields, and moving a revision along the workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin, choices_set
from procedo.sops.kpis import kpi_choices
from procedo.sops.models import SubjectType


class SopForm(FormTokenMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    subject_type = forms.ChoiceField(
        label=_("Runs on"), choices=SubjectType.choices, help_text=_("Cannot change later.")
    )
    owner_id = forms.TypedChoiceField(label=_("Owner"), coerce=int, choices=[])
    goal = forms.CharField(
        label=_("Goal"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    why = forms.CharField(
        label=_("Why"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown to everyone who runs it."),
    )
    kpi = forms.ChoiceField(label=_("KPI it should move"), choices=kpi_choices())
    kpi_target = forms.DecimalField(
        label=_("Target"), required=False, max_digits=12, decimal_places=2
    )
    kpi_window_days = forms.IntegerField(
        label=_("KPI window (days)"),
        required=False,
        min_value=1,
        help_text=_("For the repeat-purchase rate: within how many days."),
    )
    holdout_percent = forms.IntegerField(
        label=_("Holdout %"),
        min_value=0,
        max_value=50,
        initial=0,
        help_text=_("This share of subjects is recorded but not treated, to measure the effect."),
    )

    def __init__(self, *args: Any, people: list[tuple[int, str]], editing: bool = False, **kw: Any):
        super().__init__(*args, **kw)
        choices_set(self, "owner_id", people)
        if editing:
            del self.fields["subject_type"]


class TransitionForm(forms.Form):
    to_state = forms.CharField(widget=forms.HiddenInput)
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    pilot_team_id = forms.TypedChoiceField(
        label=_("Pilot team"), coerce=int, choices=[], required=False, empty_value=None
    )
    pilot_percent = forms.IntegerField(
        label=_("or pilot %"), required=False, min_value=1, max_value=100
    )

    def __init__(self, *args: Any, teams: list[tuple[int, str]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "pilot_team_id", [("", "—"), *(teams or [])])
