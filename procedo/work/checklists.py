"""Checklist answers: what each kind of item accepts, and what must be answered to finish.

Pure functions over a task's items; the services store what these return.
Every refusal names the item (`items.<key>`) so a form or an API client can
point at it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.work.models import ChecklistItem

TICK_KINDS = ("simple", "detailed")
VERDICTS = ("passed", "failed")
TEXT_MAX = 2000
_TRUE = {"true", "1", "on", "yes", "так"}
_FALSE = {"false", "0", "off", "no", "ні"}


def items_from_spec(items: Iterable[Mapping[str, Any]], *, kind: str) -> list[dict[str, Any]]:
    """A step's items as ChecklistItem fields (options kept for decisions and choices)."""
    rows = []
    for position, item in enumerate(items):
        if kind == "decision":
            options = [
                {"value": o["value"], "label": o["label"], "goto": o.get("goto", "")}
                for o in item.get("options", [])
            ]
        elif kind == "information" and item.get("field_type") == "choice":
            options = [{"value": choice, "label": choice} for choice in item.get("choices", [])]
        else:
            options = []
        rows.append(
            {
                "position": position,
                "key": item["key"],
                "text": item["text"],
                "help": item.get("help", ""),
                "required": item.get("required", True),
                "field_type": item.get("field_type", "text") if kind == "information" else "",
                "options": options,
            }
        )
    return rows


def _refuse(item: ChecklistItem, problem: str) -> DomainError:
    return DomainError(
        field=f"items.{item.key}",
        message=_("“%(item)s”: %(problem)s") % {"item": item.text, "problem": problem},
    )


def _as_bool(item: ChecklistItem, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _refuse(item, _("answer yes or no."))


def answer_clean(item: ChecklistItem, *, kind: str, value: Any) -> Any:
    """The answer as stored (None clears it), or a DomainError naming the item."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind in TICK_KINDS:
        return True if _as_bool(item, value) else None
    if kind == "decision":
        values = [option["value"] for option in item.options]
        if str(value) not in values:
            raise _refuse(item, _("choose one of: %(options)s.") % {"options": ", ".join(values)})
        return str(value)
    if kind == "verification":
        if str(value) not in VERDICTS:
            raise _refuse(item, _("a criterion is passed or failed."))
        return str(value)
    return _field_value(item, value)


def _field_value(item: ChecklistItem, value: Any) -> Any:
    if item.field_type == "yes_no":
        return _as_bool(item, value)
    if isinstance(value, bool | dict | list):
        raise _refuse(item, _("this field takes a single value."))
    text = str(value).strip()
    if item.field_type == "number":
        try:
            number = Decimal(text.replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            raise _refuse(item, _("enter a number.")) from None
        if not number.is_finite():
            raise _refuse(item, _("enter a number."))
        return str(number)
    if item.field_type == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise _refuse(item, _("enter a date as YYYY-MM-DD.")) from None
    if item.field_type == "choice":
        values = [option["value"] for option in item.options]
        if text not in values:
            raise _refuse(item, _("choose one of: %(options)s.") % {"options": ", ".join(values)})
        return text
    if len(text) > TEXT_MAX:
        raise _refuse(item, _("at most %(n)s characters.") % {"n": TEXT_MAX})
    return text


def first_missing(items: Iterable[ChecklistItem]) -> ChecklistItem | None:
    """The first required item without an answer: it blocks completing the task."""
    return next((item for item in items if item.required and item.answer is None), None)


def missing_message(item: ChecklistItem, *, kind: str) -> str:
    if kind in TICK_KINDS:
        return _("Tick “%(item)s” first: it is required.") % {"item": item.text}
    if kind == "verification":
        return _("Check “%(item)s” first: passed or failed.") % {"item": item.text}
    return _("Answer “%(item)s” first: it is required.") % {"item": item.text}
