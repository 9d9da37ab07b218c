"""An SOP's own fields, and moving a revision along the workflow."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.analytics.kpis import kpi_choices
from procedo.core.forms import FormTokenMixin, choices_set
from procedo.sops.models import Backlog, PacePeriod, SubjectType


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
    serves_id = forms.TypedChoiceField(
        label=_("Serves the goal"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[],
        help_text=_("The goal's page shows what this SOP contributes to it."),
    )
    holdout_percent = forms.IntegerField(
        label=_("Holdout %"),
        min_value=0,
        max_value=50,
        initial=0,
        help_text=_("This share of subjects is recorded but not treated, to measure the effect."),
    )

    def __init__(
        self,
        *args: Any,
        people: list[tuple[int, str]],
        goals: list[tuple[int, str]],
        editing: bool = False,
        **kw: Any,
    ):
        super().__init__(*args, **kw)
        choices_set(self, "owner_id", people)
        choices_set(self, "serves_id", [("", _("No goal")), *goals])
        if editing:
            del self.fields["subject_type"]


class PaceForm(forms.Form):
    pace_limit = forms.IntegerField(
        label=_("At most"),
        required=False,
        max_value=100_000,
        help_text=_("Starts of swept runs; empty: no limit."),
    )
    pace_period = forms.ChoiceField(label=_("starts per"), choices=PacePeriod.choices)
    pace_per_assignee = forms.BooleanField(
        label=_("for each person the first task may go to"), required=False
    )


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
    backlog = forms.ChoiceField(
        label=_("Subjects already past the mark"),
        required=False,
        choices=[(Backlog.START, _("Start for them too")), (Backlog.SKIP, _("Only from now on"))],
        widget=forms.RadioSelect,
    )
    move_runs = forms.BooleanField(
        label=_("Move runs that have not started their next step onto this revision"),
        required=False,
    )

    def __init__(self, *args: Any, teams: list[tuple[int, str]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "pilot_team_id", [("", "—"), *(teams or [])])
