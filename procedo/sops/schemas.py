"""The shape of each trigger and step kind, and of the parts they share (pydantic).

`procedo.sops.kinds` names each schema with its kind; `procedo.sops.definitions`
assembles them into a whole definition; `procedo.sops.checks` then checks what needs
the database or the subject registry.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY = r"^[a-z][a-z0-9_]{0,39}$"
# Step targets beyond the step keys: finish the run here.
END = "end"

Key = Annotated[str, Field(pattern=KEY)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(Strict):
    """One test: a subject field ("total", "customer.tags") or a payload field ("event.to")."""

    field: str = Field(min_length=1, max_length=80)
    op: str = Field(min_length=1, max_length=20)
    value: Any = None


class Conditions(Strict):
    match: Literal["all", "any"] = "all"
    rules: list[Rule] = Field(default_factory=list, max_length=20)


# ---------------------------------------------------------------- triggers


class EventTrigger(Strict):
    """A domain event of the SOP's subject, e.g. order.status_changed where event.to = delivered."""

    kind: Literal["event"]
    key: Key
    event_type: str = Field(min_length=1, max_length=80)
    conditions: Conditions = Field(default_factory=Conditions)


class DateTrigger(Strict):
    """`offset_days` after a date of the subject, on the business's wall clock.

    A subject is due once its date plus the offset has passed; the sweep looks
    back `catch_up_days` from now, so a sweep missed (downtime) is made up for.
    The occurrence is the subject's date: a second sweep finds every due
    subject started already.
    """

    kind: Literal["date"]
    key: Key
    field: str = Field(min_length=1, max_length=80)
    offset_days: int = Field(ge=0, le=3650)
    catch_up_days: int = Field(default=7, ge=1, le=60)
    conditions: Conditions = Field(default_factory=Conditions)


class ScheduleTrigger(Strict):
    """A calendar slot in the business's time zone: every day, some weekdays, or a day of month.

    Each slot starts one run per subject that matches the conditions (one run
    for the business when the SOP's subject is the business).
    """

    kind: Literal["schedule"]
    key: Key
    every: Literal["day", "week", "month"]
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list)  # 0 = Monday
    day_of_month: int | None = Field(default=None, ge=1, le=28)
    time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    catch_up_days: int = Field(default=3, ge=1, le=60)
    conditions: Conditions = Field(default_factory=Conditions)

    @model_validator(mode="after")
    def _slot_is_complete(self) -> ScheduleTrigger:
        if self.every == "week" and not self.weekdays:
            raise ValueError("a weekly schedule needs at least one weekday")
        if self.every == "month" and self.day_of_month is None:
            raise ValueError("a monthly schedule needs its day of the month")
        return self


class ManualTrigger(Strict):
    """A person starts the SOP from a subject's card; the conditions say on which subjects."""

    kind: Literal["manual"]
    key: Key
    conditions: Conditions = Field(default_factory=Conditions)


class CancelRule(Strict):
    """An event that cancels the SOP's runs in flight on that subject (e.g. the order cancelled)."""

    event_type: str = Field(min_length=1, max_length=80)
    conditions: Conditions = Field(default_factory=Conditions)


# ---------------------------------------------------------------- steps


class Assignee(Strict):
    kind: Literal["role", "team", "user", "sop_owner"]
    role: str = ""
    team_id: int | None = None
    user_id: int | None = None

    @model_validator(mode="after")
    def _target_given(self) -> Assignee:
        missing = {
            "role": "role" if not self.role else "",
            "team": "team_id" if self.team_id is None else "",
            "user": "user_id" if self.user_id is None else "",
            "sop_owner": "",
        }[self.kind]
        if missing:
            raise ValueError(f"an assignee of kind {self.kind} needs {missing}")
        return self


class StepBase(Strict):
    key: Key
    title: str = Field(min_length=1, max_length=200)
    # The step after this one: a step key, "end", or empty for the next in the list.
    next: str = Field(default="", max_length=40)


class TaskStep(StepBase):
    """Work for a person: a role, a team, a person, or the SOP's owner, due some time after.

    Past its due time the task is marked overdue and its assignee told; when
    `escalate_after_minutes` is set and the task is still open that long after
    it fell due, the team lead (or the SOP's owner) is told as well.
    """

    kind: Literal["task"]
    instructions: str = Field(default="", max_length=5000)
    assignee: Assignee
    due_in_minutes: int = Field(default=24 * 60, ge=1, le=365 * 24 * 60)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=30 * 24 * 60)


# The same five as procedo.work.models.ChecklistKind (a test keeps them equal).
ChecklistKind = Literal["simple", "detailed", "decision", "verification", "information"]
FieldType = Literal["text", "number", "date", "choice", "yes_no"]


class ChecklistOption(Strict):
    """One answer to a decision question, and the step it sends the run to ("" = the next)."""

    value: Key
    label: str = Field(min_length=1, max_length=200)
    goto: str = Field(default="", max_length=40)


class ChecklistItem(Strict):
    """An item to tick, a question to decide, a criterion to pass, or a field to fill.

    Which of these it is follows from its checklist's kind; `help` is the
    detailed checklist's instruction for the item; `field_type` and `choices`
    shape an information-gathering field; `options` answer a decision question.
    """

    key: Key
    text: str = Field(min_length=1, max_length=300)
    help: str = Field(default="", max_length=2000)
    required: bool = True
    field_type: FieldType = "text"
    choices: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=30
    )
    options: list[ChecklistOption] = Field(default_factory=list, max_length=10)


class ChecklistStep(TaskStep):
    """A task with a checklist of one of five kinds; decisions and failed checks route the run.

    - simple: items to tick; detailed: items with instructions to tick;
    - decision: questions, each answered by one of its options; the first
      answered option that names a step decides where the run goes;
    - verification: criteria each passed or failed; any failure sends the run
      to `on_fail` (else to the next step);
    - information: typed fields whose answers are kept on the subject.
    """

    kind: Literal["checklist"]  # type: ignore[assignment]
    checklist_kind: ChecklistKind = "simple"
    items: list[ChecklistItem] = Field(min_length=1, max_length=50)
    on_fail: str = Field(default="", max_length=40)

    @model_validator(mode="before")
    @classmethod
    def _items_from_lines(cls, data: Any) -> Any:
        """Revisions written before checklist items had keys stored plain lines."""
        if isinstance(data, dict) and "checklist" in data:
            data = dict(data)
            lines = data.pop("checklist") or []
            data.setdefault(
                "items", [{"key": f"item_{i + 1}", "text": text} for i, text in enumerate(lines)]
            )
        return data

    @model_validator(mode="after")
    def _items_fit_kind(self) -> ChecklistStep:
        keys = [item.key for item in self.items]
        if len(set(keys)) != len(keys):
            raise ValueError("each checklist item needs its own key")
        for item in self.items:
            if self.checklist_kind == "decision" and len(item.options) < 2:
                raise ValueError(f"decision question {item.key} needs at least two options")
            kind_is_choice = self.checklist_kind == "information" and item.field_type == "choice"
            if kind_is_choice and not item.choices:
                raise ValueError(f"field {item.key} is a choice and needs its choices")
        return self

    def routes(self) -> list[str]:
        """Every step this checklist may send the run to (for validation)."""
        targets = [option.goto for item in self.items for option in item.options if option.goto]
        return [*targets, self.on_fail] if self.on_fail else targets


class MessageStep(StepBase):
    """An email or SMS to the subject's customer: a stored template, or a subject and text here.

    Both are rendered by the messaging app (Jinja2, sandboxed, every variable
    required): `template_key` names a `messaging.Template`; else `subject` and
    `body` are the template.
    """

    kind: Literal["email", "sms"]
    template_key: str = Field(default="", max_length=80)
    subject: str = Field(default="", max_length=300)
    body: str = Field(default="", max_length=5000)
    if_no_recipient: Literal["skip", "fail"] = "skip"
    # Marketing (an offer, a discount, news) waits for consent, quiet hours and the cap and
    # carries the unsubscribe link; transactional (the order, its delivery) does not. Empty:
    # a stored template's own kind, else transactional (revisions written before this field).
    purpose: Literal["", "transactional", "marketing"] = ""
    # Why a text that reads like an offer is still transactional (checked when saved).
    transactional_reason: str = Field(default="", max_length=300)

    @model_validator(mode="after")
    def _template_or_text(self) -> MessageStep:
        if not self.template_key and not self.body.strip():
            raise ValueError("a message needs a stored template or its text")
        return self


class StatusStep(StepBase):
    kind: Literal["set_status"]
    status: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=300)


class TagStep(StepBase):
    kind: Literal["add_tag", "remove_tag"]
    tag: str = Field(min_length=1, max_length=60)


class WebhookStep(StepBase):
    kind: Literal["webhook"]
    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://\S+$")
    timeout_seconds: int = Field(default=10, ge=1, le=30)


class WaitStep(StepBase):
    """Wait a duration, or until an event on the subject with a timeout and where to go then."""

    kind: Literal["wait"]
    minutes: int | None = Field(default=None, ge=1, le=365 * 24 * 60)
    event_type: str = Field(default="", max_length=80)
    conditions: Conditions = Field(default_factory=Conditions)
    timeout_minutes: int | None = Field(default=None, ge=1, le=365 * 24 * 60)
    on_timeout: str = Field(default="", max_length=40)

    @model_validator(mode="after")
    def _duration_or_event(self) -> WaitStep:
        if bool(self.minutes) == bool(self.event_type):
            raise ValueError("a wait needs either minutes or an event to wait for, not both")
        if self.event_type and not self.timeout_minutes:
            raise ValueError("waiting for an event needs a timeout")
        return self


class BranchStep(StepBase):
    """Go to `then_step` if the subject matches the conditions now, else to `else_step`."""

    kind: Literal["branch"]
    conditions: Conditions
    then_step: str = Field(min_length=1, max_length=40)
    else_step: str = Field(min_length=1, max_length=40)


class StartSopStep(StepBase):
    kind: Literal["start_sop"]
    sop_id: int = Field(ge=1)
