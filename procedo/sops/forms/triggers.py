"""One form per trigger kind, and the cancel rule's form; each has the condition table."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import choices_set
from procedo.sops import subjects
from procedo.sops.forms.common import ItemForm, event_choices, rules_data

WEEKDAY_CHOICES = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]


def _catch_up_days() -> forms.IntegerField:
    return forms.IntegerField(
        label=_("Catch up (days)"),
        required=False,
        min_value=1,
        help_text=_("After downtime, reach subjects that fell due this many days back."),
    )


class TriggerForm(ItemForm):
    """A trigger: its kind's fields, then on which subjects (the conditions)."""

    layout: ClassVar[tuple[str, ...]] = ("rules",)

    def to_item(self, key: str = "") -> dict[str, Any]:
        item = {"kind": self.kind, "key": key, "conditions": rules_data(self.cleaned_data)}
        return {**item, **self.kind_fields(self.cleaned_data)}

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {}


class EventTriggerForm(TriggerForm):
    layout = ("event_type", "rules")
    event_type = forms.ChoiceField(label=_("Event"), choices=[], required=False)

    def __init__(self, *args: Any, subject_type: str, **kw: Any) -> None:
        super().__init__(*args, subject_type=subject_type, **kw)
        choices_set(self, "event_type", event_choices(subject_type))

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"event_type": data.get("event_type") or ""}


class DateTriggerForm(TriggerForm):
    layout = ("field", "offset_days", "catch_up_days", "rules")
    field = forms.ChoiceField(label=_("Date"), choices=[], required=False)
    offset_days = forms.IntegerField(label=_("Days after"), required=False, min_value=0)
    catch_up_days = _catch_up_days()

    def __init__(self, *args: Any, subject_type: str, **kw: Any) -> None:
        super().__init__(*args, subject_type=subject_type, **kw)
        subject = subjects.SUBJECTS[subject_type]
        choices_set(self, "field", [(f.name, str(f.label)) for f in subject.date_fields()])

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        offset = data.get("offset_days")
        return {
            "field": data.get("field") or "",
            "offset_days": offset if offset is not None else 0,
            "catch_up_days": data.get("catch_up_days") or 7,
        }


class ScheduleTriggerForm(TriggerForm):
    layout = ("every", "weekdays", "day_of_month", "time", "catch_up_days", "rules")
    every = forms.ChoiceField(
        label=_("Every"),
        choices=[("day", _("day")), ("week", _("week")), ("month", _("month"))],
        required=False,
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On"),
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    day_of_month = forms.IntegerField(label=_("Day of month"), required=False, min_value=1)
    time = forms.CharField(label=_("At (HH:MM, business time)"), required=False, initial="09:00")
    catch_up_days = _catch_up_days()

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "every": data.get("every") or "day",
            "weekdays": data.get("weekdays") or [],
            "day_of_month": data.get("day_of_month"),
            "time": data.get("time") or "09:00",
            "catch_up_days": data.get("catch_up_days") or 3,
        }


class ManualTriggerForm(TriggerForm):
    """Started by a person from a subject's card; the conditions say on which subjects."""


class CancelRuleForm(ItemForm):
    layout = ("event_type", "rules")
    event_type = forms.ChoiceField(label=_("Event"), choices=[])

    def __init__(self, *args: Any, subject_type: str, **kw: Any) -> None:
        super().__init__(*args, subject_type=subject_type, **kw)
        choices_set(self, "event_type", event_choices(subject_type))

    def to_item(self, key: str = "") -> dict[str, Any]:
        return {
            "event_type": self.cleaned_data["event_type"],
            "conditions": rules_data(self.cleaned_data),
        }
