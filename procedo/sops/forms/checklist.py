"""The checklist step: a task with rows of items, of one of five kinds.

Rows keep their keys across edits (hidden fields), because tasks in flight,
decision answers and facts on subjects refer to them; the definition counts only
the rows filled in, and the form maps its errors back to the rows on the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import choices_set
from procedo.sops.forms.common import row_count
from procedo.sops.forms.steps import TASK_FIELDS, TaskForm
from procedo.sops.schemas import KEY

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


class ChecklistForm(TaskForm):
    layout = ("title", *TASK_FIELDS, "checklist_kind", "items", "on_fail", "next")
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

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        gotos = self.options.targets(then=_("the next step"))
        choices_set(self, "on_fail", gotos)
        self._item_fields(gotos)
        # Filled by clean(): the page row of each saved item and of each saved option,
        # so an error about "items.1.options.0" lands on the row the owner sees.
        self.item_row_of: list[int] = []
        self.option_row_of: list[list[int]] = []

    def _item_fields(self, gotos: list[tuple[Any, Any]]) -> None:
        self.item_count = row_count(
            self, r"item_(\d+)_text", least=ITEM_ROWS, spare=ITEM_SPARE, most=ITEM_MAX
        )
        self.option_count = row_count(
            self, r"item_\d+_option_(\d+)_label", least=OPTION_ROWS, spare=1, most=OPTION_MAX
        )
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

    @classmethod
    def initial_from(cls, item: dict[str, Any]) -> dict[str, Any]:
        skip = ("checklist", "items")
        initial = {k: v for k, v in super().initial_from(item).items() if k not in skip}
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

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        checklist_kind = data.get("checklist_kind") or "simple"
        return {
            **super().kind_fields(data),
            "checklist_kind": checklist_kind,
            "items": data.get("items") or [],
            "on_fail": (data.get("on_fail") or "") if checklist_kind == "verification" else "",
        }

    def item_error_field(self, rest: list[str]) -> str:
        """The field of a path after "items" ("1.options.0.goto"), on the page's rows."""
        if not rest or not rest[0].isdigit():
            return "item_0_text"
        index = int(rest[0])
        row = self.item_row_of[index] if index < len(self.item_row_of) else index
        rest = rest[1:]
        if rest[:1] == ["options"]:
            if len(rest) > 1 and rest[1].isdigit():
                option = int(rest[1])
                rows = self.option_row_of[index] if index < len(self.option_row_of) else []
                option_row = rows[option] if option < len(rows) else option
                part = "goto" if rest[2:3] == ["goto"] else "label"
                return f"item_{row}_option_{option_row}_{part}"
            return f"item_{row}_option_0_label"
        name = rest[0] if rest else "text"
        if name == "key":
            cleaned = getattr(self, "cleaned_data", None) or {}
            name = "stored_as" if cleaned.get("checklist_kind") == "information" else "text"
        if name not in ("text", "help", "required", "field_type", "choices", "stored_as"):
            name = "text"
        return f"item_{row}_{name}"


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
    """One checklist row of a ChecklistForm, for the template."""

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
