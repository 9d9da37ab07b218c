"""Every kind of trigger and step, listed once, with all its parts.

A kind is its key (what `kind` says in a definition), the label people choose it
by, its pydantic schema (the shape), its form (how a person writes it), its
sentence (how the SOP page and diffs describe it) and its check (what it means
against the store). The definition's unions, the editor's menus, the texts, the
validation and the API's catalog all read this list: adding a kind is one entry
here plus its parts. `procedo/sops/tests/test_kinds.py` holds every entry to that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel

from procedo.sops import checks, describe, schemas
from procedo.sops.forms import steps as step_forms
from procedo.sops.forms import triggers as trigger_forms
from procedo.sops.forms.checklist import ChecklistForm

Describe = Callable[..., str]  # (item: Mapping, *, subject_type: str) -> str


@dataclass(frozen=True)
class TriggerKind:
    key: str
    label: str | Promise
    schema: type[BaseModel]
    form: type[trigger_forms.TriggerForm]
    describe: Describe
    check: Callable[[Any, checks.TriggerCheck], None]
    once: bool = False  # at most one trigger of this kind in an SOP


@dataclass(frozen=True)
class StepKind:
    key: str
    label: str | Promise
    schema: type[BaseModel]
    form: type[step_forms.StepForm]
    describe: Describe
    check: Callable[[Any, checks.StepCheck], None]
    by_person: bool = False  # a person does it (a task); the engine does the others itself


K = TypeVar("K", TriggerKind, StepKind)


def _by_key(*kinds: K) -> dict[str, K]:
    return {kind.key: kind for kind in kinds}


TRIGGER_KINDS: Mapping[str, TriggerKind] = _by_key(
    TriggerKind(
        "event",
        _("When something happens"),
        schemas.EventTrigger,
        trigger_forms.EventTriggerForm,
        describe.event_trigger_text,
        checks.event_trigger_check,
    ),
    TriggerKind(
        "date",
        _("Some days after a date"),
        schemas.DateTrigger,
        trigger_forms.DateTriggerForm,
        describe.date_trigger_text,
        checks.date_trigger_check,
    ),
    TriggerKind(
        "schedule",
        _("On a schedule"),
        schemas.ScheduleTrigger,
        trigger_forms.ScheduleTriggerForm,
        describe.schedule_trigger_text,
        checks.conditions_only_check,
    ),
    TriggerKind(
        "manual",
        _("Started by a person"),
        schemas.ManualTrigger,
        trigger_forms.ManualTriggerForm,
        describe.manual_trigger_text,
        checks.conditions_only_check,
        once=True,
    ),
)

STEP_KINDS: Mapping[str, StepKind] = _by_key(
    StepKind(
        "task",
        _("Task for a person, team or role"),
        schemas.TaskStep,
        step_forms.TaskForm,
        describe.person_step_text,
        checks.task_check,
        by_person=True,
    ),
    StepKind(
        "checklist",
        _("Checklist"),
        schemas.ChecklistStep,
        ChecklistForm,
        describe.person_step_text,
        checks.checklist_check,
        by_person=True,
    ),
    StepKind(
        "email",
        _("Send an email"),
        schemas.MessageStep,
        step_forms.MessageForm,
        describe.email_text,
        checks.message_check,
    ),
    StepKind(
        "sms",
        _("Send an SMS"),
        schemas.MessageStep,
        step_forms.MessageForm,
        describe.sms_text,
        checks.message_check,
    ),
    StepKind(
        "set_status",
        _("Change the order's status"),
        schemas.StatusStep,
        step_forms.StatusForm,
        describe.status_text,
        checks.status_check,
    ),
    StepKind(
        "add_tag",
        _("Tag the customer"),
        schemas.TagStep,
        step_forms.TagForm,
        describe.add_tag_text,
        checks.tag_check,
    ),
    StepKind(
        "remove_tag",
        _("Untag the customer"),
        schemas.TagStep,
        step_forms.TagForm,
        describe.remove_tag_text,
        checks.tag_check,
    ),
    StepKind(
        "webhook",
        _("Call a webhook"),
        schemas.WebhookStep,
        step_forms.WebhookForm,
        describe.webhook_text,
        checks.nothing_to_check,
    ),
    StepKind(
        "wait",
        _("Wait"),
        schemas.WaitStep,
        step_forms.WaitForm,
        describe.wait_text,
        checks.wait_check,
    ),
    StepKind(
        "branch",
        _("Branch on a condition"),
        schemas.BranchStep,
        step_forms.BranchForm,
        describe.branch_text,
        checks.branch_check,
    ),
    StepKind(
        "start_sop",
        _("Start another SOP"),
        schemas.StartSopStep,
        step_forms.StartSopForm,
        describe.start_sop_text,
        checks.start_sop_check,
    ),
)


def kind_choices(kinds: Mapping[str, TriggerKind | StepKind]) -> list[tuple[str, str]]:
    """(key, label) for a menu, in the registry's order."""
    return [(key, str(kind.label)) for key, kind in kinds.items()]


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    # Building them all costs tens of milliseconds per catalog request; the schemas
    # never change while the process runs. Callers only serialise the result.
    return schema.model_json_schema()


def kind_catalog(kind: TriggerKind | StepKind) -> dict[str, Any]:
    """A kind as the API's catalog documents it: its label and the JSON schema of its fields."""
    entry: dict[str, Any] = {"label": str(kind.label), "schema": _json_schema(kind.schema)}
    if isinstance(kind, StepKind):
        entry["by_person"] = kind.by_person
    return entry
