"""Checking a revision's definition when it is saved, naming the bad field.

Shape first (pydantic schemas per trigger and step kind), then meaning: each
item's key, then its kind's check from the registry (`procedo.sops.checks`), then
cycles of "start another SOP" across every SOP. A definition that passes is stored
in its normalised JSON form.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from pydantic import ValidationError

from procedo.core.errors import DomainError
from procedo.sops import knowledge_links, subjects
from procedo.sops.checks import (
    StepCheck,
    TriggerCheck,
    conditions_clean,
    event_type_check,
    target_check,
)
from procedo.sops.definitions import END, Definition, definition_parse
from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS

# The tags pydantic puts in a location after a list index ("steps", 2, "task", ...).
_KIND_TAGS = {*TRIGGER_KINDS, *STEP_KINDS}


def _path(loc: tuple[Any, ...]) -> str:
    """Pydantic's location without the discriminator tags: ("steps", 2, "task", "title")."""
    parts: list[str] = []
    previous: Any = None
    for part in loc:
        tagged_union = isinstance(previous, int) and isinstance(part, str) and part in _KIND_TAGS
        if not tagged_union and not (isinstance(part, str) and "[" in part):
            parts.append(str(part))
        previous = part
    return ".".join(parts)


def _shape(raw: Any) -> Definition:
    if not isinstance(raw, dict):
        raise DomainError(field="definition", message=_("A definition is an object."))
    try:
        return definition_parse(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = _path(tuple(first["loc"])) or "definition"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DomainError(field=field, message=f"{field}: {message}") from None


def _start_sop_targets(definition: dict[str, Any]) -> set[int]:
    return {
        int(step["sop_id"])
        for step in definition.get("steps", [])
        if isinstance(step, dict) and step.get("kind") == "start_sop" and step.get("sop_id")
    }


def _cycle_check(*, sop_id: int | None, targets: set[int], field_of: dict[int, str]) -> None:
    """Refuse a "start another SOP" that, through any chain, comes back to this SOP."""
    from procedo.sops.models import Revision, RevisionState

    if sop_id is None or not targets:
        return
    edges: dict[int, set[int]] = {}
    for other, definition in Revision.objects.exclude(state=RevisionState.RETIRED).values_list(
        "sop_id", "definition"
    ):
        if other != sop_id:
            edges.setdefault(other, set()).update(_start_sop_targets(definition or {}))
    for first in sorted(targets):
        seen: set[int] = set()
        stack = [first]
        while stack:
            current = stack.pop()
            if current == sop_id:
                field = field_of[first]
                raise DomainError(
                    field=field,
                    message=_(
                        "%(field)s: starting SOP %(target)s would start this SOP again (a cycle)"
                    )
                    % {"field": field, "target": first},
                )
            if current not in seen:
                seen.add(current)
                stack.extend(edges.get(current, ()))


def definition_clean(raw: Any, *, subject_type: str, sop_id: int | None) -> dict[str, Any]:
    """Validate a definition for an SOP running on `subject_type`; returns its stored form."""
    definition = _shape(raw)
    subject = subjects.SUBJECTS[subject_type]
    out: dict[str, Any] = definition.model_dump(mode="json")

    trigger_keys: set[str] = set()
    once: set[str] = set()
    triggers: list[Any] = list(definition.triggers)
    for index, trigger in enumerate(triggers):
        where = f"triggers.{index}"
        if trigger.key in trigger_keys:
            raise DomainError(
                field=f"{where}.key",
                message=_("%(where)s.key: two triggers are called “%(key)s”")
                % {"where": where, "key": trigger.key},
            )
        trigger_keys.add(trigger.key)
        kind = TRIGGER_KINDS[trigger.kind]
        if kind.once and trigger.kind in once:
            raise DomainError(
                field=f"{where}.kind",
                message=_("%(where)s: an SOP has at most one manual trigger") % {"where": where},
            )
        once.add(trigger.kind)
        kind.check(trigger, TriggerCheck(subject=subject, where=where, out=out["triggers"][index]))

    for index, rule in enumerate(definition.cancel_on):
        where = f"cancel_on.{index}"
        event_type_check(rule.event_type, subject=subject, field=f"{where}.event_type")
        out["cancel_on"][index]["conditions"] = conditions_clean(
            rule.conditions,
            subject=subject,
            event_type=rule.event_type,
            field=f"{where}.conditions",
        )

    keys = [step.key for step in definition.steps]
    starts: dict[int, str] = {}
    steps: list[Any] = list(definition.steps)
    for index, step in enumerate(steps):
        where = f"steps.{index}"
        if step.key == END or step.key in keys[:index]:
            raise DomainError(
                field=f"{where}.key",
                message=_("%(where)s.key: “%(key)s” is taken; each step needs its own key")
                % {"where": where, "key": step.key},
            )
        target_check(step.next, keys=set(keys), field=f"{where}.next", allow_empty=True)
        check = StepCheck(
            subject=subject,
            where=where,
            out=out["steps"][index],
            keys=set(keys),
            sop_id=sop_id,
            starts=starts,
        )
        STEP_KINDS[step.kind].check(step, check)
    _cycle_check(sop_id=sop_id, targets=set(starts), field_of=starts)
    knowledge_links.articles_check(out)
    return out
