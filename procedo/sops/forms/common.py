"""What every item form shares: page layout, condition rows, and errors mapped to fields.

Each form turns its fields into the definition's dict for its item; the services
validate the whole definition and name a bad field by its path
("steps.2.conditions.rules.1.value"), which `error_field` maps back to the form
field that shows the error.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.sops import subjects

# Condition rows shown: those in use plus RULE_SPARE empty ones, up to what a definition allows.
RULE_SPARE = 3
RULE_MAX = 20
# Names in a form's layout that stand for a table of rows rather than one field.
TABLES = ("rules", "items")


def error_field(form: forms.Form, path: str) -> str | None:
    """The form field for a definition path like "steps.2.conditions.rules.1.value".

    Checklist paths ("steps.2.items.1.options.0.goto") count only the rows the
    owner filled in; the checklist form maps them back to the rows on the page.
    """
    parts = path.split(".")
    if "rules" in parts:
        index = parts.index("rules")
        if index + 1 < len(parts):
            name = f"rule_{parts[index + 1]}_{parts[-1]}"
            if name in form.fields:
                return name
    item_field = getattr(form, "item_error_field", None)
    if "items" in parts and item_field is not None:
        name = item_field(parts[parts.index("items") + 1 :])
        if name in form.fields:
            return str(name)
    for part in reversed(parts):
        if part in form.fields:
            return part
    if parts and parts[-1] == "assignee" and "assignee_kind" in form.fields:
        return "assignee_kind"
    return None


def _posted_rows(form: forms.Form, pattern: str) -> int:
    """One more than the highest row index among the posted (or initial) field names."""
    source = form.data if form.is_bound else form.initial
    found = [
        int(match.group(1))
        for name, value in source.items()
        if (match := re.fullmatch(pattern, name)) and (form.is_bound or value not in (None, ""))
    ]
    return max(found, default=-1) + 1


def row_count(form: forms.Form, pattern: str, *, least: int, spare: int, most: int) -> int:
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


def event_choices(subject_type: str) -> list[tuple[str, str]]:
    return [
        (spec.event_type, f"{spec.label} ({spec.event_type})")
        for spec in subjects.events_of(subject_type)
    ]


def rules_initial(conditions: dict[str, Any] | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"match": (conditions or {}).get("match", "all")}
    for i, rule in enumerate((conditions or {}).get("rules", [])[:RULE_MAX]):
        value = rule.get("value")
        initial[f"rule_{i}_field"] = rule.get("field")
        initial[f"rule_{i}_op"] = rule.get("op")
        initial[f"rule_{i}_value"] = (
            ", ".join(str(v) for v in value) if isinstance(value, list) else value
        )
    return initial


def rules_data(data: dict[str, Any]) -> dict[str, Any]:
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


class ItemForm(forms.Form):
    """One trigger, cancel rule or step of a definition; subclasses are one kind each.

    `layout` is the page's order of fields ("rules" stands for the condition table,
    "items" for a checklist's rows); a form whose layout has "rules" gets the
    condition rows for its SOP's subject.
    """

    layout: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, subject_type: str, kind: str = "", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.kind = kind
        self.rule_count = 0
        if "rules" in self.layout:
            self.rule_count = self._rule_fields_add(
                condition_field_choices(subject_type, with_events=True)
            )

    def _rule_fields_add(self, field_choices: list[tuple[str, str]]) -> int:
        self.fields["match"] = forms.ChoiceField(
            label=_("Match"),
            choices=[("all", _("all of these")), ("any", _("any of these"))],
            initial="all",
            required=False,
        )
        operators = [("", "—")] + [
            (op, str(label)) for op, label in subjects.OPERATOR_LABELS.items()
        ]
        count = row_count(self, r"rule_(\d+)_field", least=1, spare=RULE_SPARE, most=RULE_MAX)
        for i in range(count):
            self.fields[f"rule_{i}_field"] = forms.ChoiceField(
                label=_("Field"), choices=[("", "—"), *field_choices], required=False
            )
            self.fields[f"rule_{i}_op"] = forms.ChoiceField(
                label=_("Operator"), choices=operators, required=False
            )
            self.fields[f"rule_{i}_value"] = forms.CharField(label=_("Value"), required=False)
        return count

    def visible(self) -> list[str]:
        """The layout's names this form has, in page order (the template draws them)."""
        return [name for name in self.layout if name in TABLES or name in self.fields]

    @classmethod
    def initial_from(cls, item: dict[str, Any]) -> dict[str, Any]:
        """The form's initial data for a stored item."""
        return {
            **{k: v for k, v in item.items() if k != "conditions"},
            **rules_initial(item.get("conditions")),
        }

    def to_item(self, key: str = "") -> dict[str, Any]:
        """The cleaned fields as the definition's dict for this item."""
        raise NotImplementedError
