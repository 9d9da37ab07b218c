"""Forms for writing SOPs without JSON: one trigger, cancel rule or step at a time.

Each form turns its fields into the definition's dict for that item; the
services validate the whole definition and name a bad field by its path
("steps.2.conditions.rules.1.value"), which `error_field` maps back to the
form field that shows the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin, choices_set
from procedo.sops import subjects
from procedo.sops.definitions import END, KEY
from procedo.sops.kpis import kpi_choices
from procedo.sops.models import SubjectType

# Condition rows shown: those in use plus RULE_SPARE empty ones, up to what a definition allows.
RULE_SPARE = 3
RULE_MAX = 20
# Checklist item rows: at least ITEM_ROWS (the page shows the empty ones one at a time);
# a longer checklist gets ITEM_SPARE more, up to the definition's limit.
ITEM_ROWS = 10
ITEM_SPARE = 3
ITEM_MAX = 50
OPTION_ROWS = 4
OPTION_MAX = 10
CHECKLIST_KIND_CHOICES = [
    ("simple", _("Simple: items to tick")),
    ("detailed", _("Detailed: items to tick, each with instructions")),
    ("decision", _("Decision: questions whose answer chooses the next step")),
    ("verification", _("Verification: criteria, each passed or failed")),
    ("information", _("Information: fields to fill in, kept on the subject")),
]
FIELD_TYPE_CHOICES = [
    ("text", _("Text")),
    ("number", _("Number")),
    ("date", _("Date")),
    ("choice", _("One of a list")),
    ("yes_no", _("Yes / no")),
]
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
    "escalate_after_minutes",
    "priority",
]
STEP_FIELDS: dict[str, list[str]] = {
    "task": TASK_FIELDS,
    "checklist": [*TASK_FIELDS, "checklist_kind", "items", "on_fail"],
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


def error_field(form: forms.Form, path: str) -> str | None:
    """The form field for a definition path like "steps.2.conditions.rules.1.value".

    Checklist paths ("steps.2.items.1.options.0.goto") count only the rows the
    owner filled in; `StepForm.item_row_of` maps them back to the rows on the page.
    """
    parts = path.split(".")
    if "rules" in parts:
        index = parts.index("rules")
        if index + 2 < len(parts) + 1 and index + 1 < len(parts):
            name = f"rule_{parts[index + 1]}_{parts[-1]}"
            if name in form.fields:
                return name
    if "items" in parts:
        name = _item_error_field(form, parts[parts.index("items") + 1 :])
        if name in form.fields:
            return name
    for part in reversed(parts):
        if part in form.fields:
            return part
    if parts and parts[-1] == "assignee" and "assignee_kind" in form.fields:
        return "assignee_kind"
    return None


def _item_error_field(form: forms.Form, rest: list[str]) -> str:
    if not rest or not rest[0].isdigit():
        return "item_0_text"
    index = int(rest[0])
    item_rows: list[int] = getattr(form, "item_row_of", [])
    option_rows: list[list[int]] = getattr(form, "option_row_of", [])
    row = item_rows[index] if index < len(item_rows) else index
    rest = rest[1:]
    if rest[:1] == ["options"]:
        if len(rest) > 1 and rest[1].isdigit():
            option = int(rest[1])
            rows = option_rows[index] if index < len(option_rows) else []
            option_row = rows[option] if option < len(rows) else option
            part = "goto" if rest[2:3] == ["goto"] else "label"
            return f"item_{row}_option_{option_row}_{part}"
        return f"item_{row}_option_0_label"
    name = rest[0] if rest else "text"
    if name == "key":
        cleaned = getattr(form, "cleaned_data", None) or {}
        name = "stored_as" if cleaned.get("checklist_kind") == "information" else "text"
    if name not in ("text", "help", "required", "field_type", "choices", "stored_as"):
        name = "text"
    return f"item_{row}_{name}"


def _posted_rows(form: forms.Form, pattern: str) -> int:
    """One more than the highest row index among the posted (or initial) field names."""
    source = form.data if form.is_bound else form.initial
    found = [
        int(match.group(1))
        for name, value in source.items()
        if (match := re.fullmatch(pattern, name)) and (form.is_bound or value not in (None, ""))
    ]
    return max(found, default=-1) + 1


def _row_count(form: forms.Form, pattern: str, *, least: int, spare: int, most: int) -> int:
    """Rows of a repeated group: as many as were posted, else those in use plus `spare`."""
    used = _posted_rows(form, pattern)
    wanted = used if form.is_bound else used + spare
    return min(most, max(least, wanted))


def rule_rows(form: forms.Form) -> list[tuple[forms.BoundField, ...]]:
    """The condition rows of a form, as (field, operator, value) bound fields."""
    return [
        (form[f"rule_{i}_field"], form[f"rule_{i}_op"], form[f"rule_{i}_value"])
        for i in range(getattr(form, "rule_count", 0))
    ]


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


def _rule_fields(form: forms.Form, field_choices: list[tuple[str, str]]) -> int:
    """Add the match and condition-row fields; returns how many rows there are."""
    form.fields["match"] = forms.ChoiceField(
        label=_("Match"),
        choices=[("all", _("all of these")), ("any", _("any of these"))],
        initial="all",
        required=False,
    )
    op_choices = [("", "—")] + [(op, str(label)) for op, label in subjects.OPERATOR_LABELS.items()]
    count = _row_count(form, r"rule_(\d+)_field", least=1, spare=RULE_SPARE, most=RULE_MAX)
    for i in range(count):
        form.fields[f"rule_{i}_field"] = forms.ChoiceField(
            label=_("Field"), choices=[("", "—"), *field_choices], required=False
        )
        form.fields[f"rule_{i}_op"] = forms.ChoiceField(
            label=_("Operator"), choices=op_choices, required=False
        )
        form.fields[f"rule_{i}_value"] = forms.CharField(label=_("Value"), required=False)
    return count


def _rules_initial(conditions: dict[str, Any] | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"match": (conditions or {}).get("match", "all")}
    for i, rule in enumerate((conditions or {}).get("rules", [])[:RULE_MAX]):
        value = rule.get("value")
        initial[f"rule_{i}_field"] = rule.get("field")
        initial[f"rule_{i}_op"] = rule.get("op")
        initial[f"rule_{i}_value"] = (
            ", ".join(str(v) for v in value) if isinstance(value, list) else value
        )
    return initial


def _rules_data(data: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for i in range(RULE_MAX):
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
        choices_set(self, "event_type", _event_choices(subject_type))
        subject = subjects.SUBJECTS[subject_type]
        choices_set(self, "field", [(f.name, str(f.label)) for f in subject.date_fields()])
        self.rule_count = _rule_fields(
            self, condition_field_choices(subject_type, with_events=True)
        )

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
        choices_set(self, "event_type", _event_choices(subject_type))
        self.rule_count = _rule_fields(
            self, condition_field_choices(subject_type, with_events=True)
        )

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
    escalate_after_minutes = forms.IntegerField(
        label=_("Escalate after (minutes late)"),
        required=False,
        min_value=1,
        max_value=30 * 24 * 60,
        help_text=_(
            "If it is still open this long after it was due, the team lead "
            "(or the SOP's owner) is told. Empty: never."
        ),
    )
    checklist_kind = forms.ChoiceField(
        label=_("Kind of checklist"),
        choices=CHECKLIST_KIND_CHOICES,
        initial="simple",
        required=False,
        help_text=_(
            "Simple: the person ticks each item. Detailed: each item comes with instructions. "
            "Decision: each question has answers, and an answer can send the run to another "
            "step. Verification: each criterion is passed or failed; a failure can send the "
            "run elsewhere. Information: the person fills in fields, and the answers are kept "
            "on the subject for later steps and reports."
        ),
    )
    on_fail = forms.ChoiceField(label=_("If a criterion fails, go to"), choices=[], required=False)
    subject = forms.CharField(label=_("Email subject"), required=False, max_length=300)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_(
            "Leave empty to send the chosen template. Variables: {{ customer.first_name }}, "
            "{{ order.number }}, {{ order.total }}, {{ order.tracking_url }}…; "
            "{{ customer.first_name or 'friend' }} gives a fallback."
        ),
    )
    template_key = forms.ChoiceField(
        label=_("Stored template"),
        choices=[],
        required=False,
        help_text=_("Written under Messages → Templates; used when the text is empty."),
    )
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
        templates: list[tuple[str, str]] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        targets = [(key, title) for key, title in step_keys]
        choices_set(self, "template_key", [("", _("none: the text below")), *(templates or [])])
        choices_set(self, "next", [("", _("the next step")), (END, _("end the run")), *targets])
        choices_set(
            self,
            "on_timeout",
            [
                ("", _("the next step")),
                (END, _("end the run")),
                *targets,
            ],
        )
        choices_set(self, "then_step", [(END, _("end the run")), *targets])
        choices_set(self, "else_step", [(END, _("end the run")), *targets])
        choices_set(self, "role", [("", "—"), *roles])
        choices_set(self, "team_id", [("", "—"), *teams])
        choices_set(self, "user_id", [("", "—"), *people])
        choices_set(self, "status", [("", "—"), *statuses])
        choices_set(self, "sop_id", [("", "—"), *sops])
        choices_set(self, "event_type", [("", "—"), *_event_choices(subject_type)])
        choices_set(self, "on_fail", [("", _("the next step")), (END, _("end the run")), *targets])
        self.rule_count = _rule_fields(
            self, condition_field_choices(subject_type, with_events=True)
        )
        self._item_fields(targets)
        # Filled by clean(): the page row of each saved item and of each saved option,
        # so an error about "items.1.options.0" lands on the row the owner sees.
        self.item_row_of: list[int] = []
        self.option_row_of: list[list[int]] = []

    def _item_fields(self, targets: list[tuple[str, str]]) -> None:
        self.item_count = _row_count(
            self, r"item_(\d+)_text", least=ITEM_ROWS, spare=ITEM_SPARE, most=ITEM_MAX
        )
        self.option_count = _row_count(
            self, r"item_\d+_option_(\d+)_label", least=OPTION_ROWS, spare=1, most=OPTION_MAX
        )
        gotos = [("", _("the next step")), (END, _("end the run")), *targets]
        key_check = RegexValidator(
            KEY,
            message=_(
                "Use lower-case letters, digits and _ (up to 40), starting with a letter, "
                "e.g. complaint_reason."
            ),
        )
        fields = self.fields
        for i in range(self.item_count):
            fields[f"item_{i}_key"] = forms.CharField(
                required=False, max_length=40, widget=forms.HiddenInput
            )
            fields[f"item_{i}_text"] = forms.CharField(
                label=_("Item"), required=False, max_length=300
            )
            fields[f"item_{i}_help"] = forms.CharField(
                label=_("How to do it"),
                required=False,
                max_length=2000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            fields[f"item_{i}_required"] = forms.BooleanField(
                label=_("Required"), required=False, initial=True
            )
            fields[f"item_{i}_field_type"] = forms.ChoiceField(
                label=_("Answer type"), choices=FIELD_TYPE_CHOICES, required=False, initial="text"
            )
            fields[f"item_{i}_choices"] = forms.CharField(
                label=_("Choices"),
                required=False,
                max_length=3100,
                help_text=_("Separated by commas, e.g. late, damaged, wrong size."),
            )
            fields[f"item_{i}_stored_as"] = forms.CharField(
                label=_("Stored as"),
                required=False,
                max_length=40,
                validators=[key_check],
                widget=forms.TextInput(attrs={"placeholder": _("optional")}),
            )
            for j in range(self.option_count):
                fields[f"item_{i}_option_{j}_value"] = forms.CharField(
                    required=False, max_length=40, widget=forms.HiddenInput
                )
                fields[f"item_{i}_option_{j}_label"] = forms.CharField(
                    label=_("Answer"), required=False, max_length=200
                )
                fields[f"item_{i}_option_{j}_goto"] = forms.ChoiceField(
                    label=_("Then go to"), choices=gotos, required=False
                )

    @staticmethod
    def initial_from(item: dict[str, Any]) -> dict[str, Any]:
        skip = ("assignee", "conditions", "checklist", "items")
        initial = {k: v for k, v in item.items() if k not in skip}
        assignee = item.get("assignee") or {}
        initial.update(
            assignee_kind=assignee.get("kind"),
            role=assignee.get("role"),
            team_id=assignee.get("team_id"),
            user_id=assignee.get("user_id"),
        )
        initial.update(_rules_initial(item.get("conditions")))
        items = item.get("items")
        if items is None:  # written before checklist items had keys: plain lines
            lines = item.get("checklist") or []
            items = [{"key": f"item_{n + 1}", "text": text} for n, text in enumerate(lines)]
        information = item.get("checklist_kind") == "information"
        for i, entry in enumerate(items[:ITEM_MAX]):
            initial.update(
                {
                    f"item_{i}_key": entry.get("key", ""),
                    f"item_{i}_text": entry.get("text", ""),
                    f"item_{i}_help": entry.get("help", ""),
                    f"item_{i}_required": entry.get("required", True),
                    f"item_{i}_field_type": entry.get("field_type") or "text",
                    f"item_{i}_choices": ", ".join(entry.get("choices") or []),
                    f"item_{i}_stored_as": entry.get("key", "") if information else "",
                }
            )
            for j, option in enumerate((entry.get("options") or [])[:OPTION_MAX]):
                initial.update(
                    {
                        f"item_{i}_option_{j}_value": option.get("value", ""),
                        f"item_{i}_option_{j}_label": option.get("label", ""),
                        f"item_{i}_option_{j}_goto": option.get("goto", ""),
                    }
                )
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("kind") == "checklist":
            data["items"] = self._items_clean(data)
        return data

    def _items_clean(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The checklist's filled rows as definition items, with stable keys and values.

        Only the columns the chosen kind shows count; an empty row is ignored. A
        row keeps its key (a hidden field) across edits, because tasks in flight,
        decision answers and facts on subjects refer to it; a new row gets a
        fresh `item_<n>`, and an information field may be named by the owner.
        """
        kind = data.get("checklist_kind") or "simple"
        rows: list[tuple[int, dict[str, Any]]] = []
        option_rows: list[list[int]] = []
        for i in range(self.item_count):
            entry, options = self._item_clean(i, kind, data)
            if entry is not None:
                rows.append((i, entry))
                option_rows.append(options)
        if not rows:
            self.add_error("item_0_text", _("A checklist needs at least one item."))
            return []
        self._keys_assign(rows, information=kind == "information", data=data)
        self.item_row_of = [i for i, _entry in rows]
        self.option_row_of = option_rows
        return [entry for _i, entry in rows]

    def _item_clean(
        self, i: int, kind: str, data: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, list[int]]:
        def value(name: str) -> str:
            return str(data.get(f"item_{i}_{name}") or "").strip()

        text = value("text")
        entry: dict[str, Any] = {
            "key": "",
            "text": text,
            "required": bool(data.get(f"item_{i}_required")),
        }
        extras: list[str] = []
        if kind != "simple":
            entry["help"] = value("help")
            extras.append(entry["help"])
        option_rows: list[int] = []
        unnamed: list[int] = []
        if kind == "decision":
            entry["options"] = []
            for j in range(self.option_count):
                label = value(f"option_{j}_label")
                goto = value(f"option_{j}_goto")
                if not label:
                    if goto:
                        unnamed.append(j)
                    continue
                entry["options"].append(
                    {"value": value(f"option_{j}_value"), "label": label, "goto": goto}
                )
                option_rows.append(j)
            extras.extend(option["label"] for option in entry["options"])
        if kind == "information":
            field_type = value("field_type") or "text"
            choices = [c.strip() for c in value("choices").split(",") if c.strip()]
            entry.update(field_type=field_type, choices=choices if field_type == "choice" else [])
            extras.extend([entry["choices"] and value("choices"), value("stored_as")])
        if not text:
            # Clearing a kept item's text removes it; a new row half filled is a slip.
            if any(extras) and not data.get(f"item_{i}_key"):
                self.add_error(f"item_{i}_text", _("Write the item, or clear its row."))
            return None, []
        for j in unnamed:
            self.add_error(
                f"item_{i}_option_{j}_label",
                _("Name this answer, or set its “then go to” back to the next step."),
            )
        if kind == "decision" and len(entry["options"]) < 2:
            free = next(
                (j for j in range(self.option_count) if j not in option_rows), self.option_count - 1
            )
            self.add_error(
                f"item_{i}_option_{free}_label",
                _("A question needs at least two answers to choose from."),
            )
        if kind == "information" and entry["field_type"] == "choice":
            self._choices_check(i, entry["choices"])
        return entry, option_rows

    def _choices_check(self, i: int, choices: list[str]) -> None:
        if not choices:
            self.add_error(
                f"item_{i}_choices", _("List the answers to choose from, separated by commas.")
            )
        elif len(choices) > 30:
            self.add_error(f"item_{i}_choices", _("At most 30 choices."))
        elif any(len(choice) > 100 for choice in choices):
            self.add_error(f"item_{i}_choices", _("Each choice is at most 100 characters."))

    def _keys_assign(
        self, rows: list[tuple[int, dict[str, Any]]], *, information: bool, data: dict[str, Any]
    ) -> None:
        taken: set[str] = set()
        for i, entry in rows:
            named = str(data.get(f"item_{i}_stored_as") or "").strip() if information else ""
            if named and named in taken:
                self.add_error(
                    f"item_{i}_stored_as",
                    _("Another field is already stored as “%(key)s”.") % {"key": named},
                )
                continue
            kept = str(data.get(f"item_{i}_key") or "")
            if not named and re.fullmatch(KEY, kept) and kept not in taken:
                named = kept
            if named:
                entry["key"] = named
                taken.add(named)
        for _i, entry in rows:
            if not entry["key"]:
                entry["key"] = _fresh_key("item", taken)
            values: set[str] = set()
            for option in entry.get("options", []):
                if re.fullmatch(KEY, option["value"]) and option["value"] not in values:
                    values.add(option["value"])
                else:
                    option["value"] = ""
            for option in entry.get("options", []):
                if not option["value"]:
                    option["value"] = _fresh_key("answer", values)

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
                escalate_after_minutes=data.get("escalate_after_minutes"),
            )
            if kind == "checklist":
                checklist_kind = data.get("checklist_kind") or "simple"
                item.update(
                    checklist_kind=checklist_kind,
                    items=data.get("items") or [],
                    on_fail=(data.get("on_fail") or "") if checklist_kind == "verification" else "",
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


def _fresh_key(prefix: str, taken: set[str]) -> str:
    """`<prefix>_<n>` past the highest n in use, so a new row never takes a kept row's key."""
    numbers = [
        int(match.group(1)) for key in taken if (match := re.fullmatch(rf"{prefix}_(\d+)", key))
    ]
    key = f"{prefix}_{max(numbers, default=0) + 1}"
    taken.add(key)
    return key


@dataclass(frozen=True)
class ItemRow:
    """One checklist row of a StepForm, for the template."""

    number: int
    key: forms.BoundField
    text: forms.BoundField
    help: forms.BoundField
    required: forms.BoundField
    field_type: forms.BoundField
    choices: forms.BoundField
    stored_as: forms.BoundField
    options: list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]
    empty: bool


def item_rows(form: forms.Form) -> list[ItemRow]:
    """The checklist rows of a step form (none for trigger and cancel forms)."""
    rows = []
    for i in range(getattr(form, "item_count", 0)):
        options = [
            (
                form[f"item_{i}_option_{j}_value"],
                form[f"item_{i}_option_{j}_label"],
                form[f"item_{i}_option_{j}_goto"],
            )
            for j in range(getattr(form, "option_count", 0))
        ]
        filled = [form[f"item_{i}_{name}"] for name in ("text", "help", "choices", "stored_as")]
        filled += [label for _value, label, _goto in options]
        empty = not any(field.value() or field.errors for field in filled)
        rows.append(
            ItemRow(
                number=i + 1,
                key=form[f"item_{i}_key"],
                text=form[f"item_{i}_text"],
                help=form[f"item_{i}_help"],
                required=form[f"item_{i}_required"],
                field_type=form[f"item_{i}_field_type"],
                choices=form[f"item_{i}_choices"],
                stored_as=form[f"item_{i}_stored_as"],
                options=options,
                empty=empty,
            )
        )
    return rows


def item_for_form(section: str, item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as its form edits it: an old task step with a checklist is a checklist step."""
    if section == "steps" and item.get("kind") == "task" and item.get("checklist"):
        return {**item, "kind": "checklist"}
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
        choices_set(self, "pilot_team_id", [("", "—"), *(teams or [])])
