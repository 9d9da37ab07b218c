"""One form per step kind, on a small base: a title, where to go next, and the kind's fields.

A checklist is a task with rows of items (`procedo.sops.forms.checklist`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import choices_set
from procedo.sops.forms.common import ItemForm, event_choices, rules_data
from procedo.sops.schemas import END


@dataclass(frozen=True)
class StepChoices:
    """What a step form offers to choose from; the view reads it from the database."""

    subject_type: str
    step_keys: Sequence[tuple[str, str]] = ()  # (key, label) of the SOP's steps
    people: Sequence[tuple[int, str]] = ()
    teams: Sequence[tuple[int, str]] = ()
    roles: Sequence[tuple[str, str]] = ()
    statuses: Sequence[tuple[str, str]] = ()
    sops: Sequence[tuple[int, str]] = ()
    templates: Sequence[tuple[str, str]] = ()

    def targets(self, *, then: str | Promise | None = None) -> list[tuple[Any, Any]]:
        """The steps a run may go to: `then` ("the next step") first when it is allowed."""
        first = [("", then)] if then is not None else []
        return [*first, (END, _("end the run")), *self.step_keys]


class StepForm(ItemForm):
    """The base of every step kind's form; `kind_fields` gives the kind's part of the step."""

    layout: ClassVar[tuple[str, ...]] = ("title", "next")
    title = forms.CharField(label=_("Title"), max_length=200)
    next = forms.ChoiceField(label=_("Then"), choices=[], required=False)

    def __init__(self, *args: Any, kind: str, choices: StepChoices, **kw: Any) -> None:
        super().__init__(*args, subject_type=choices.subject_type, kind=kind, **kw)
        self.options = choices
        choices_set(self, "next", choices.targets(then=_("the next step")))

    def to_item(self, key: str = "") -> dict[str, Any]:
        data = self.cleaned_data
        item = {"kind": self.kind, "key": key, "title": data["title"]}
        return {**item, "next": data.get("next") or "", **self.kind_fields(data)}

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {}


def item_for_form(section: str, item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as its form edits it: an old task step with a checklist is a checklist step."""
    if section == "steps" and item.get("kind") == "task" and item.get("checklist"):
        return {**item, "kind": "checklist"}
    return item


TASK_FIELDS = (
    "instructions",
    "assignee_kind",
    "role",
    "team_id",
    "user_id",
    "due_in_minutes",
    "escalate_after_minutes",
    "priority",
)


class TaskForm(StepForm):
    """Work for a person: who, by when, how urgent, and whom to tell when it is late."""

    layout: ClassVar[tuple[str, ...]] = ("title", *TASK_FIELDS, "next")
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

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "role", [("", "—"), *self.options.roles])
        choices_set(self, "team_id", [("", "—"), *self.options.teams])
        choices_set(self, "user_id", [("", "—"), *self.options.people])

    @classmethod
    def initial_from(cls, item: dict[str, Any]) -> dict[str, Any]:
        initial = {k: v for k, v in super().initial_from(item).items() if k != "assignee"}
        assignee = item.get("assignee") or {}
        initial.update(
            assignee_kind=assignee.get("kind"),
            role=assignee.get("role"),
            team_id=assignee.get("team_id"),
            user_id=assignee.get("user_id"),
        )
        return initial

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "instructions": data.get("instructions") or "",
            "assignee": {
                "kind": data.get("assignee_kind") or "role",
                "role": data.get("role") or "",
                "team_id": data.get("team_id"),
                "user_id": data.get("user_id"),
            },
            "due_in_minutes": data.get("due_in_minutes") or 60,
            "priority": data.get("priority") or "normal",
            "escalate_after_minutes": data.get("escalate_after_minutes"),
        }


class MessageForm(StepForm):
    """An email or an SMS (which has no subject line): a stored template, or its own text."""

    layout = (
        "title",
        "purpose",
        "transactional_reason",
        "subject",
        "body",
        "template_key",
        "if_no_recipient",
        "next",
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"),
        choices=[
            ("", _("as the stored template says (else transactional)")),
            ("transactional", _("transactional: about the customer's order or account")),
            ("marketing", _("marketing: an offer, a discount, news")),
        ],
        required=False,
        help_text=_(
            "Marketing goes only to customers who agreed to it, outside quiet hours and "
            "within the cap, with an unsubscribe link."
        ),
    )
    transactional_reason = forms.CharField(
        label=_("Why transactional"),
        required=False,
        max_length=300,
        help_text=_("Needed only when a transactional text mentions a discount or an offer."),
    )
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

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if self.kind != "email":
            del self.fields["subject"]
        choices_set(
            self, "template_key", [("", _("none: the text below")), *self.options.templates]
        )

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = {
            "body": data.get("body") or "",
            "template_key": data.get("template_key") or "",
            "if_no_recipient": data.get("if_no_recipient") or "skip",
            "purpose": data.get("purpose") or "",
            "transactional_reason": data.get("transactional_reason") or "",
        }
        if self.kind == "email":
            fields["subject"] = data.get("subject") or ""
        return fields


class StatusForm(StepForm):
    layout = ("title", "status", "note", "next")
    status = forms.ChoiceField(label=_("New status"), choices=[], required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=300)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "status", [("", "—"), *self.options.statuses])

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": data.get("status") or "", "note": data.get("note") or ""}


class TagForm(StepForm):
    """Add or remove one of the customer's tags."""

    layout = ("title", "tag", "next")
    tag = forms.CharField(label=_("Tag"), required=False, max_length=60)

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"tag": data.get("tag") or ""}


class WebhookForm(StepForm):
    layout = ("title", "url", "timeout_seconds", "next")
    url = forms.CharField(label=_("URL"), required=False, max_length=500)
    timeout_seconds = forms.IntegerField(
        label=_("Timeout (s)"), required=False, min_value=1, initial=10
    )

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"url": data.get("url") or "", "timeout_seconds": data.get("timeout_seconds") or 10}


class WaitForm(StepForm):
    """A duration, or an event on the subject (with conditions) and a timeout."""

    layout = ("title", "minutes", "event_type", "timeout_minutes", "on_timeout", "rules", "next")
    minutes = forms.IntegerField(label=_("Wait (minutes)"), required=False, min_value=1)
    event_type = forms.ChoiceField(label=_("…or wait for"), choices=[], required=False)
    timeout_minutes = forms.IntegerField(label=_("At most (minutes)"), required=False, min_value=1)
    on_timeout = forms.ChoiceField(label=_("On timeout go to"), choices=[], required=False)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "event_type", [("", "—"), *event_choices(self.options.subject_type)])
        choices_set(self, "on_timeout", self.options.targets(then=_("the next step")))

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "minutes": data.get("minutes"),
            "event_type": data.get("event_type") or "",
            "timeout_minutes": data.get("timeout_minutes"),
            "on_timeout": data.get("on_timeout") or "",
            "conditions": rules_data(data),
        }


class BranchForm(StepForm):
    """Go one way if the subject matches the conditions now, the other way if not."""

    layout = ("title", "rules", "then_step", "else_step", "next")
    then_step = forms.ChoiceField(label=_("If it matches go to"), choices=[], required=False)
    else_step = forms.ChoiceField(label=_("Otherwise go to"), choices=[], required=False)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "then_step", self.options.targets())
        choices_set(self, "else_step", self.options.targets())

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "conditions": rules_data(data),
            "then_step": data.get("then_step") or END,
            "else_step": data.get("else_step") or END,
        }


class StartSopForm(StepForm):
    layout = ("title", "sop_id", "next")
    sop_id = forms.TypedChoiceField(
        label=_("SOP"), coerce=int, choices=[], required=False, empty_value=None
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "sop_id", [("", "—"), *self.options.sops])

    def kind_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"sop_id": data.get("sop_id")}
