"""An SOP revision's content as data: triggers, cancel rules and steps.

Each kind of trigger and step has its own schema (`procedo.sops.schemas`), named in
the registry of kinds (`procedo.sops.kinds`); a definition is a list of each, told
apart by `kind`. This checks the shape; `procedo.sops.validation` then checks what
needs the database or the subject registry (fields, operators, targets, templates,
cycles) and names the bad field. A definition that passed both is stored as JSON on
the revision and parsed again, once per process, by the engine (published revisions
never change, so the parse is cached).
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, model_validator

from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS
from procedo.sops.schemas import END, CancelRule, Conditions, Strict

# END and Conditions are read from here by the engine, as before the schemas had their module.
__all__ = ["END", "Conditions", "Definition", "definition_parse"]


def _tagged_union(schemas: Any) -> Any:
    """One of the kinds' schemas, chosen by `kind` (two kinds may share a schema)."""
    members = functools.reduce(operator.or_, dict.fromkeys(schemas))
    return Annotated[members, Field(discriminator="kind")]


if TYPE_CHECKING:  # built from the registry at run time; a step's attributes depend on its kind
    Trigger = Any
    Step = Any
else:
    Trigger = _tagged_union(kind.schema for kind in TRIGGER_KINDS.values())
    Step = _tagged_union(kind.schema for kind in STEP_KINDS.values())


class Definition(Strict):
    triggers: list[Trigger] = Field(default_factory=list, max_length=10)
    cancel_on: list[CancelRule] = Field(default_factory=list, max_length=10)
    steps: list[Step] = Field(default_factory=list, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _task_checklists_are_checklist_steps(cls, data: Any) -> Any:
        """Revisions written before checklists had their own kind put them on task steps."""
        if not isinstance(data, dict):
            return data
        steps = data.get("steps")
        if isinstance(steps, list) and any(
            isinstance(step, dict) and step.get("kind") == "task" and "checklist" in step
            for step in steps
        ):
            data = {**data, "steps": [_task_step_upgraded(step) for step in steps]}
        return data

    def step(self, key: str) -> Any:
        return next((step for step in self.steps if step.key == key), None)

    def trigger(self, key: str) -> Any:
        return next((trigger for trigger in self.triggers if trigger.key == key), None)

    def first_step_key(self) -> str:
        return self.steps[0].key if self.steps else ""

    def step_after(self, key: str) -> str:
        """The step that follows `key` when it names none: its `next`, else the next in the list."""
        for index, step in enumerate(self.steps):
            if step.key == key:
                if step.next:
                    return "" if step.next == END else str(step.next)
                return self.steps[index + 1].key if index + 1 < len(self.steps) else ""
        return ""


def _task_step_upgraded(step: Any) -> Any:
    if not (isinstance(step, dict) and step.get("kind") == "task" and "checklist" in step):
        return step
    if not step["checklist"]:
        return {k: v for k, v in step.items() if k != "checklist"}
    return {**step, "kind": "checklist"}


def definition_parse(raw: dict[str, Any]) -> Definition:
    return Definition.model_validate(raw)
