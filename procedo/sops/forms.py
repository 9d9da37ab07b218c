"""Forms for writing SOPs without JSON: one trigger, cancel rule or step at a time.

Each form turns its fields into the definition's dict for that item; the
services validate the whole definition and name a bad field by its path
("steps.2.conditions.rules.1.value"), which `error_field` maps back to the
form field that shows the error.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.automation import subjects
from procedo.sops.definitions import END
from procedo.sops.kpis import kpi_choices
from procedo.sops.models import SubjectType

RULE_ROWS = 5
WEEKDAY_CHOICES = [
    (0, _("Mon")),
    (1, _("Tue")),
    (2, _("Wed")),
    (3, _("Thu")),
    (4, _("Fri")),
    (5, _("Sat")),
    (6, _("Sun")),
]
STEP_KIND_CHOICES = [
    ("task", _("Task for a person, team or role")),
    ("checklist", _("Checklist")),
    ("email", _("Send an email")),
    ("sms", _("Send an SMS")),
    ("set_status", _("Change the order's status")),
    ("add_tag", _("Tag the customer")),
    ("remove_tag", _("Untag the customer")),
    ("webhook", _("Call a webhook")),
    ("wait", _("Wait")),
    ("branch", _("Branch on a condition")),
    ("start_sop", _("Start another SOP")),
]
TRIGGER_KIND_CHOICES = [
    ("event", _("When something happens")),
    ("date", _("Some days after a date")),
    ("schedule", _("On a schedule")),
    ("manual", _("Started by a person")),
]
TASK_FIELDS = [
    "instructions",
    "assignee_kind",
    "role",
    "team_id",
    "user_id",
    "due_in_minutes",
    "priority",
    "checklist",
]
STEP_FIELDS: dict[str, list[str]] = {
    "task": TASK_FIELDS,
    "checklist": TASK_FIELDS,
    "email": ["subject", "body", "template_key", "if_no_recipient"],
    "sms": ["body", "template_key", "if_no_recipient"],
    "set_status": ["status", "note"],
    "add_tag": ["tag"],
    "remove_tag": ["tag"],
    "webhook": ["url", "timeout_seconds"],
    "wait": ["minutes", "event_type", "timeout_minutes", "on_timeout", "rules"],
    "branch": ["rules", "then_step", "else_step"],
    "start_sop": ["sop_id"],
}
TRIGGER_FIELDS: dict[str, list[str]] = {
    "event": ["event_type", "rules"],
    "date": ["field", "offset_days", "catch_up_days", "rules"],
    "schedule": ["every", "weekdays", "day_of_month", "time", "catch_up_days", "rules"],
    "manual": ["rules"],
}


class FormTokenMixin(forms.Form):
    """A hidden UUID per rendered form: the idempotency key of its submit (a double click)."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def _set_choices(form: forms.Form, name: str, choices: Any) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def error_field(form: forms.Form, path: str) -> str | None:
    """The form field for a definition path like "steps.2.conditions.rules.1.value"."""
    parts = path.split(".")
    if "rules" in parts:
        index = parts.index("rules")
        if index + 2 < len(parts) + 1 and index + 1 < len(parts):
            name = f"rule_{parts[index + 1]}_{parts[-1]}"
            if name in form.fields:
                return name
    for part in reversed(parts):
        if part in form.fields:
            return part
    if parts and parts[-1] == "assignee" and "assignee_kind" in form.fields:
        return "assignee_kind"
    return None


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
        _set_choices(self, "owner_id", people)
        if editing:
            del self.fields["subject_type"]


def _rule_fields(form: forms.Form, field_choices: list[tuple[str, str]]) -> None:
    form.fields["match"] = forms.ChoiceField(
        label=_("Match"),
        choices=[("all", _("all of these")), ("any", _("any of these"))],
        initial="all",
        required=False,
    )
    op_choices = [("", "—")] + [(op, str(label)) for op, label in subjects.OPERATOR_LABELS.items()]
    for i in range(RULE_ROWS):
        form.fields[f"rule_{i}_field"] = forms.ChoiceField(
            label=_("Field"), choices=[("", "—"), *field_choices], required=False
        )
        form.fields[f"rule_{i}_op"] = forms.ChoiceField(
            label=_("Operator"), choices=op_choices, required=False
        )
        form.fields[f"rule_{i}_value"] = forms.CharField(label=_("Value"), required=False)


def _rules_initial(conditions: dict[str, Any] | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"match": (conditions or {}).get("match", "all")}
    for i, rule in enumerate((conditions or {}).get("rules", [])[:RULE_ROWS]):
        value = rule.get("value")
        initial[f"rule_{i}_field"] = rule.get("field")
        initial[f"rule_{i}_op"] = rule.get("op")
        initial[f"rule_{i}_value"] = ", ".join(value) if isinstance(value, list) else value
    return initial


def _rules_data(data: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for i in range(RULE_ROWS):
        field = data.get(f"rule_{i}_field")
        if field:
            rules.append(
                {
                    "field": field,
                    "op": data.get(f"rule_{i}_op") or "eq",
                    "value": data.get(f"rule_{i}_value"),
                }
            )
    return {"match": data.get("match") or "all", "rules": rules}


def condition_field_choices(subject_type: str, *, with_events: bool) -> list[tuple[str, str]]:
    subject = subjects.SUBJECTS[subject_type]
    choices = [(name, str(spec.label)) for name, spec in subject.fields.items()]
    if with_events:
        seen: set[str] = set()
        for spec in subjects.events_of(subject_type):
            for name, field in spec.payload.items():
                if name not in seen:
                    seen.add(name)
                    choices.append((name, f"{_('event')}: {field.label}"))
    return choices


def _event_choices(subject_type: str) -> list[tuple[str, str]]:
    return [
        (spec.event_type, f"{spec.label} ({spec.event_type})")
        for spec in subjects.events_of(subject_type)
    ]


class TriggerForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=TRIGGER_KIND_CHOICES)
    event_type = forms.ChoiceField(label=_("Event"), choices=[], required=False)
    field = forms.ChoiceField(label=_("Date"), choices=[], required=False)
    offset_days = forms.IntegerField(label=_("Days after"), required=False, min_value=0)
    catch_up_days = forms.IntegerField(
        label=_("Catch up (days)"),
        required=False,
        min_value=1,
        help_text=_("After downtime, reach subjects that fell due this many days back."),
    )
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

    def __init__(self, *args: Any, subject_type: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        _set_choices(self, "event_type", _event_choices(subject_type))
        subject = subjects.SUBJECTS[subject_type]
        _set_choices(self, "field", [(f.name, str(f.label)) for f in subject.date_fields()])
        _rule_fields(self, condition_field_choices(subject_type, with_events=True))

    @staticmethod
    def initial_from(item: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: v for k, v in item.items() if k != "conditions"},
            **_rules_initial(item.get("conditions")),
        }

    def to_item(self, key: str = "") -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        item: dict[str, Any] = {"kind": kind, "key": key, "conditions": _rules_data(data)}
        if kind == "event":
            item["event_type"] = data.get("event_type") or ""
        elif kind == "date":
            item["field"] = data.get("field") or ""
            item["offset_days"] = (
                data.get("offset_days") if data.get("offset_days") is not None else 0
            )
            item["catch_up_days"] = data.get("catch_up_days") or 7
        elif kind == "schedule":
            item["every"] = data.get("every") or "day"
            item["weekdays"] = data.get("weekdays") or []
            item["day_of_month"] = data.get("day_of_month")
            item["time"] = data.get("time") or "09:00"
            item["catch_up_days"] = data.get("catch_up_days") or 3
        return item


class CancelRuleForm(forms.Form):
    event_type = forms.ChoiceField(label=_("Event"), choices=[])

    def __init__(self, *args: Any, subject_type: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        _set_choices(self, "event_type", _event_choices(subject_type))
        _rule_fields(self, condition_field_choices(subject_type, with_events=True))

    @staticmethod
    def initial_from(item: dict[str, Any]) -> dict[str, Any]:
        return {"event_type": item.get("event_type"), **_rules_initial(item.get("conditions"))}

    def to_item(self, key: str = "") -> dict[str, Any]:
        return {
            "event_type": self.cleaned_data["event_type"],
            "conditions": _rules_data(self.cleaned_data),
        }


class StepForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=STEP_KIND_CHOICES, widget=forms.HiddenInput)
    title = forms.CharField(label=_("Title"), max_length=200)
    next = forms.ChoiceField(label=_("Then"), choices=[], required=False)
    instructions = forms.CharField(
        label=_("Instructions"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    assignee_kind = forms.ChoiceField(
        label=_("Who"),
        choices=[
            ("role", _("everyone with a role")),
            ("team", _("a team")),
            ("user", _("a person")),
            ("sop_owner", _("the SOP's owner")),
        ],
        required=False,
    )
    role = forms.ChoiceField(label=_("Role"), choices=[], required=False)
    team_id = forms.TypedChoiceField(
        label=_("Team"), coerce=int, choices=[], required=False, empty_value=None
    )
    user_id = forms.TypedChoiceField(
        label=_("Person"), coerce=int, choices=[], required=False, empty_value=None
    )
    due_in_minutes = forms.IntegerField(
        label=_("Due in (minutes)"), required=False, min_value=1, initial=60
    )
    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[
            ("low", _("low")),
            ("normal", _("normal")),
            ("high", _("high")),
            ("urgent", _("urgent")),
        ],
        initial="normal",
        required=False,
    )
    checklist = forms.CharField(
        label=_("Checklist"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One item per line."),
    )
    subject = forms.CharField(label=_("Email subject"), required=False, max_length=300)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Use {{ customer.first_name }}, {{ order.number }}, {{ order.total }}…"),
    )
    template_key = forms.CharField(label=_("Template name"), required=False, max_length=80)
    if_no_recipient = forms.ChoiceField(
        label=_("No address"),
        choices=[("skip", _("skip the step")), ("fail", _("fail the run"))],
        required=False,
    )
    status = forms.ChoiceField(label=_("New status"), choices=[], required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)
    tag = forms.CharField(label=_("Tag"), required=False, max_length=60)
    url = forms.CharField(label=_("URL"), required=False, max_length=500)
    timeout_seconds = forms.IntegerField(
        label=_("Timeout (s)"), required=False, min_value=1, initial=10
    )
    minutes = forms.IntegerField(label=_("Wait (minutes)"), required=False, min_value=1)
    event_type = forms.ChoiceField(label=_("…or wait for"), choices=[], required=False)
    timeout_minutes = forms.IntegerField(label=_("At most (minutes)"), required=False, min_value=1)
    on_timeout = forms.ChoiceField(label=_("On timeout go to"), choices=[], required=False)
    then_step = forms.ChoiceField(label=_("If it matches go to"), choices=[], required=False)
    else_step = forms.ChoiceField(label=_("Otherwise go to"), choices=[], required=False)
    sop_id = forms.TypedChoiceField(
        label=_("SOP"), coerce=int, choices=[], required=False, empty_value=None
    )

    def __init__(
        self,
        *args: Any,
        subject_type: str,
        step_keys: list[tuple[str, str]],
        people: list[tuple[int, str]],
        teams: list[tuple[int, str]],
        roles: list[tuple[str, str]],
        statuses: list[tuple[str, str]],
        sops: list[tuple[int, str]],
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        targets = [(key, title) for key, title in step_keys]
        _set_choices(self, "next", [("", _("the next step")), (END, _("end the run")), *targets])
        _set_choices(
            self,
            "on_timeout",
            [
                ("", _("the next step")),
                (END, _("end the run")),
                *targets,
            ],
        )
        _set_choices(self, "then_step", [(END, _("end the run")), *targets])
        _set_choices(self, "else_step", [(END, _("end the run")), *targets])
        _set_choices(self, "role", [("", "—"), *roles])
        _set_choices(self, "team_id", [("", "—"), *teams])
        _set_choices(self, "user_id", [("", "—"), *people])
        _set_choices(self, "status", [("", "—"), *statuses])
        _set_choices(self, "sop_id", [("", "—"), *sops])
        _set_choices(self, "event_type", [("", "—"), *_event_choices(subject_type)])
        _rule_fields(self, condition_field_choices(subject_type, with_events=True))

    @staticmethod
    def initial_from(item: dict[str, Any]) -> dict[str, Any]:
        initial = {
            k: v for k, v in item.items() if k not in ("assignee", "conditions", "checklist")
        }
        assignee = item.get("assignee") or {}
        initial.update(
            assignee_kind=assignee.get("kind"),
            role=assignee.get("role"),
            team_id=assignee.get("team_id"),
            user_id=assignee.get("user_id"),
            checklist="\n".join(item.get("checklist") or []),
        )
        initial.update(_rules_initial(item.get("conditions")))
        return initial

    def to_item(self, key: str = "") -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        item: dict[str, Any] = {
            "kind": kind,
            "key": key,
            "title": data["title"],
            "next": data.get("next") or "",
        }
        if kind in ("task", "checklist"):
            assignee_kind = data.get("assignee_kind") or "role"
            item.update(
                instructions=data.get("instructions") or "",
                assignee={
                    "kind": assignee_kind,
                    "role": data.get("role") or "",
                    "team_id": data.get("team_id"),
                    "user_id": data.get("user_id"),
                },
                due_in_minutes=data.get("due_in_minutes") or 60,
                priority=data.get("priority") or "normal",
                checklist=[
                    line.strip()
                    for line in (data.get("checklist") or "").splitlines()
                    if line.strip()
                ],
            )
        elif kind in ("email", "sms"):
            item.update(
                body=data.get("body") or "",
                template_key=data.get("template_key") or "",
                if_no_recipient=data.get("if_no_recipient") or "skip",
            )
            if kind == "email":
                item["subject"] = data.get("subject") or ""
        elif kind == "set_status":
            item.update(status=data.get("status") or "", note=data.get("note") or "")
        elif kind in ("add_tag", "remove_tag"):
            item["tag"] = data.get("tag") or ""
        elif kind == "webhook":
            item.update(
                url=data.get("url") or "", timeout_seconds=data.get("timeout_seconds") or 10
            )
        elif kind == "wait":
            item.update(
                minutes=data.get("minutes"),
                event_type=data.get("event_type") or "",
                timeout_minutes=data.get("timeout_minutes"),
                on_timeout=data.get("on_timeout") or "",
                conditions=_rules_data(data),
            )
        elif kind == "branch":
            item.update(
                conditions=_rules_data(data),
                then_step=data.get("then_step") or END,
                else_step=data.get("else_step") or END,
            )
        elif kind == "start_sop":
            item["sop_id"] = data.get("sop_id")
        return item


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
        _set_choices(self, "pilot_team_id", [("", "—"), *(teams or [])])


class RunStartForm(FormTokenMixin):
    sop_id = forms.TypedChoiceField(label=_("SOP"), coerce=int, choices=[])
    subject_type = forms.CharField(widget=forms.HiddenInput)
    subject_id = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, sops: list[tuple[int, str]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        _set_choices(self, "sop_id", sops)


class RunCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why"), required=False, max_length=300)
