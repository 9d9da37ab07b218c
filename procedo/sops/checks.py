"""What each trigger and step kind means, checked against the store (one check per kind).

A definition whose shape passed (`procedo.sops.schemas`) is checked here kind by kind:
the fields and operators of conditions, step targets, message templates, people and
teams, status codes, the SOPs a step starts. Each check raises a `DomainError` naming
the bad field by its path ("steps.2.assignee.role") and writes normalised values
(conditions) into the item as it will be stored. `procedo.sops.kinds` says which
check belongs to which kind; `procedo.sops.validation` runs them in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.sops import subjects
from procedo.sops.schemas import END, Conditions


@dataclass
class TriggerCheck:
    """Where a trigger stands in its definition, and the dict it will be stored as."""

    subject: subjects.Subject
    where: str  # "triggers.1"
    out: dict[str, Any]


@dataclass
class StepCheck:
    """Where a step stands in its definition, and the dict it will be stored as."""

    subject: subjects.Subject
    where: str  # "steps.2"
    out: dict[str, Any]
    keys: set[str]  # every step key of the definition
    sop_id: int | None
    # The SOPs this definition starts, each with the field that first names it (for cycles).
    starts: dict[int, str] = field(default_factory=dict)


# ---------------------------------------------------------------- shared parts


def conditions_clean(
    conditions: Conditions, *, subject: subjects.Subject, event_type: str, field: str
) -> dict[str, Any]:
    """The conditions with values normalised, or a DomainError naming the rule's field or op."""
    rules = []
    for index, rule in enumerate(conditions.rules):
        where = f"{field}.rules.{index}"
        spec = subjects.field_get(subject, rule.field, event_type)
        if spec is None:
            known = sorted(subject.fields)
            if event_type and event_type in subjects.EVENTS:
                known += sorted(subjects.EVENTS[event_type].payload)
            raise DomainError(
                field=f"{where}.field",
                message=_("%(where)s.field: unknown field “%(name)s” (known: %(known)s)")
                % {"where": where, "name": rule.field, "known": ", ".join(known) or "—"},
            )
        allowed = subjects.OPERATORS[spec.type]
        if rule.op not in allowed:
            raise DomainError(
                field=f"{where}.op",
                message=_("%(where)s.op: “%(op)s” does not apply to %(name)s (use %(allowed)s)")
                % {
                    "where": where,
                    "op": rule.op,
                    "name": rule.field,
                    "allowed": ", ".join(allowed),
                },
            )
        try:
            value = subjects.value_clean(spec, rule.op, rule.value)
        except subjects.BadValue as exc:
            raise DomainError(
                field=f"{where}.value",
                message=_("%(where)s.value: %(problem)s") % {"where": where, "problem": exc},
            ) from None
        rules.append({"field": rule.field, "op": rule.op, "value": value})
    return {"match": conditions.match, "rules": rules}


def event_type_check(event_type: str, *, subject: subjects.Subject, field: str) -> None:
    spec = subjects.EVENTS.get(event_type)
    if spec is None:
        raise DomainError(
            field=field,
            message=_("%(field)s: unknown event type “%(type)s”")
            % {"field": field, "type": event_type},
        )
    if spec.subject != subject.name:
        raise DomainError(
            field=field,
            message=_("%(field)s: “%(type)s” is about a %(other)s, this SOP runs on a %(subject)s")
            % {"field": field, "type": event_type, "other": spec.subject, "subject": subject.name},
        )


def target_check(value: str, *, keys: set[str], field: str, allow_empty: bool) -> None:
    if (allow_empty and value == "") or value == END or value in keys:
        return
    raise DomainError(
        field=field,
        message=_("%(field)s: there is no step “%(key)s” in this SOP")
        % {"field": field, "key": value},
    )


def _conditions(item: Any, ctx: TriggerCheck | StepCheck, *, event_type: str = "") -> None:
    ctx.out["conditions"] = conditions_clean(
        item.conditions,
        subject=ctx.subject,
        event_type=event_type,
        field=f"{ctx.where}.conditions",
    )


def _customer_needed(ctx: StepCheck, message: str) -> None:
    if ctx.subject.customer_lookup is None:
        raise DomainError(
            field=f"{ctx.where}.kind",
            message=message % {"where": ctx.where, "subject": ctx.subject.name},
        )


# ---------------------------------------------------------------- triggers


def event_trigger_check(trigger: Any, ctx: TriggerCheck) -> None:
    event_type_check(trigger.event_type, subject=ctx.subject, field=f"{ctx.where}.event_type")
    _conditions(trigger, ctx, event_type=trigger.event_type)


def date_trigger_check(trigger: Any, ctx: TriggerCheck) -> None:
    subject = ctx.subject
    spec = subject.fields.get(trigger.field)
    if spec is None or spec.type != subjects.DATETIME:
        dates = ", ".join(f.name for f in subject.date_fields()) or "—"
        raise DomainError(
            field=f"{ctx.where}.field",
            message=_("%(where)s.field: “%(name)s” is not a date of a %(subject)s (%(dates)s)")
            % {"where": ctx.where, "name": trigger.field, "subject": subject.name, "dates": dates},
        )
    _conditions(trigger, ctx)


def conditions_only_check(trigger: Any, ctx: TriggerCheck) -> None:
    """A schedule or a manual start: only its conditions mean something to check."""
    _conditions(trigger, ctx)


# ---------------------------------------------------------------- steps


def _assignee_check(assignee: Any, *, field: str) -> None:
    from procedo.accounts.models import Team, User
    from procedo.accounts.roles import Role

    if assignee.kind == "role" and assignee.role not in Role.values:
        raise DomainError(
            field=f"{field}.role",
            message=_("%(field)s.role: no role “%(role)s”")
            % {"field": field, "role": assignee.role},
        )
    if assignee.kind == "team" and not Team.objects.filter(pk=assignee.team_id).exists():
        raise DomainError(
            field=f"{field}.team_id",
            message=_("%(field)s.team_id: no such team") % {"field": field},
        )
    if (
        assignee.kind == "user"
        and not User.objects.filter(pk=assignee.user_id, is_active=True).exists()
    ):
        raise DomainError(
            field=f"{field}.user_id",
            message=_("%(field)s.user_id: no such active person") % {"field": field},
        )


def task_check(step: Any, ctx: StepCheck) -> None:
    _assignee_check(step.assignee, field=f"{ctx.where}.assignee")


def checklist_check(step: Any, ctx: StepCheck) -> None:
    task_check(step, ctx)
    for item_index, item in enumerate(step.items):
        for option_index, option in enumerate(item.options):
            target_check(
                option.goto,
                keys=ctx.keys,
                field=f"{ctx.where}.items.{item_index}.options.{option_index}.goto",
                allow_empty=True,
            )
    target_check(step.on_fail, keys=ctx.keys, field=f"{ctx.where}.on_fail", allow_empty=True)


def message_check(step: Any, ctx: StepCheck) -> None:
    """A stored template of the step's channel, or a text that renders for this kind of subject.

    The text is rendered by the messaging app against example values of every
    variable the subject offers: a syntax error or an unknown variable is refused
    here, naming the line, not found in a customer's mail.
    """
    from procedo.messaging import rendering
    from procedo.messaging.models import Template

    _customer_needed(ctx, _("%(where)s: a %(subject)s has no customer to write to"))
    where = ctx.where
    if step.template_key:
        template = Template.objects.filter(key=step.template_key).first()
        if template is None:
            raise DomainError(
                field=f"{where}.template_key",
                message=_("%(where)s.template_key: no template “%(key)s”")
                % {"where": where, "key": step.template_key},
            )
        if template.channel != step.kind:
            raise DomainError(
                field=f"{where}.template_key",
                message=_("%(where)s.template_key: “%(key)s” is not a template for %(channel)s")
                % {"where": where, "key": step.template_key, "channel": step.kind},
            )
        _purpose_check(
            step,
            where,
            purpose=step.purpose or template.kind,
            texts=(template.subject, template.body_text),
        )
        return
    _purpose_check(
        step, where, purpose=step.purpose or "transactional", texts=(step.subject, step.body)
    )
    if step.kind == "email" and not step.subject.strip():
        raise DomainError(
            field=f"{where}.subject",
            message=_("%(where)s.subject: an email needs a subject line") % {"where": where},
        )
    example = {**rendering.sample_context(), "sop": {"name": "SOP"}}
    example.pop("discount_code")  # a campaign's variable; a run has none
    if ctx.subject.name != "order":
        example.pop("order")
    if step.kind == "sms":
        example.pop("unsubscribe_url")
    try:
        rendering.render(subject=step.subject, body_text=step.body, body_html="", context=example)
    except DomainError as exc:
        part = "subject" if exc.field == "subject" else "body"
        raise DomainError(
            field=f"{where}.{part}",
            message=f"{where}.{part}: {exc.message}",
        ) from None


def _purpose_check(step: Any, where: str, *, purpose: str, texts: tuple[str, ...]) -> None:
    """An offer sent as transactional skips consent, quiet hours and the cap: it needs a
    reason written down, or the marketing purpose."""
    from procedo.messaging.offers import offer_words

    words = offer_words(*texts)
    if purpose != "marketing" and words and not step.transactional_reason.strip():
        raise DomainError(
            field=f"{where}.purpose",
            message=_(
                "%(where)s: the text reads like an offer (“%(words)s”): make it marketing, "
                "or say why it is transactional"
            )
            % {"where": where, "words": words},
        )


def status_check(step: Any, ctx: StepCheck) -> None:
    from procedo.orders.models import OrderStatus

    if ctx.subject.name != "order":
        raise DomainError(
            field=f"{ctx.where}.kind",
            message=_("%(where)s: only an order has a status to change") % {"where": ctx.where},
        )
    if not OrderStatus.objects.filter(code=step.status).exists():
        raise DomainError(
            field=f"{ctx.where}.status",
            message=_("%(where)s.status: no order status “%(code)s”")
            % {"where": ctx.where, "code": step.status},
        )


def tag_check(step: Any, ctx: StepCheck) -> None:
    _customer_needed(ctx, _("%(where)s: a %(subject)s has no customer to tag"))


def nothing_to_check(step: Any, ctx: StepCheck) -> None:
    """Its schema says all there is to say (a webhook's URL and timeout)."""


def wait_check(step: Any, ctx: StepCheck) -> None:
    if step.event_type:
        event_type_check(step.event_type, subject=ctx.subject, field=f"{ctx.where}.event_type")
    _conditions(step, ctx, event_type=step.event_type)
    target_check(step.on_timeout, keys=ctx.keys, field=f"{ctx.where}.on_timeout", allow_empty=True)


def branch_check(step: Any, ctx: StepCheck) -> None:
    _conditions(step, ctx)
    target_check(step.then_step, keys=ctx.keys, field=f"{ctx.where}.then_step", allow_empty=False)
    target_check(step.else_step, keys=ctx.keys, field=f"{ctx.where}.else_step", allow_empty=False)


def start_sop_check(step: Any, ctx: StepCheck) -> None:
    from procedo.sops.models import Sop

    where, subject = ctx.where, ctx.subject
    found = list(Sop.objects.filter(pk=step.sop_id).values_list("subject_type", flat=True))
    if not found:
        raise DomainError(
            field=f"{where}.sop_id",
            message=_("%(where)s.sop_id: no SOP %(id)s") % {"where": where, "id": step.sop_id},
        )
    if step.sop_id == ctx.sop_id:
        raise DomainError(
            field=f"{where}.sop_id",
            message=_("%(where)s.sop_id: an SOP cannot start itself") % {"where": where},
        )
    if found[0] != subject.name and not (subject.name == "order" and found[0] == "customer"):
        raise DomainError(
            field=f"{where}.sop_id",
            message=_("%(where)s.sop_id: that SOP runs on a %(other)s, not a %(subject)s")
            % {"where": where, "other": found[0], "subject": subject.name},
        )
    ctx.starts.setdefault(step.sop_id, f"{where}.sop_id")
