"""Checking a revision's definition when it is saved, naming the bad field.

Shape first (pydantic schemas per trigger and step kind), then meaning: the
fields and operators of conditions, step targets, message templates, people
and teams, status codes, and cycles of "start another SOP". A definition that
passes is stored in its normalised JSON form.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from pydantic import ValidationError

from procedo.core.errors import DomainError
from procedo.sops import subjects
from procedo.sops.definitions import END, Conditions, Definition, definition_parse


def _path(loc: tuple[Any, ...]) -> str:
    """Pydantic's location without the discriminator tags: ("steps", 2, "task", "title")."""
    parts: list[str] = []
    previous: Any = None
    for part in loc:
        tagged_union = isinstance(previous, int) and isinstance(part, str) and part in _KINDS
        if not tagged_union and not (isinstance(part, str) and "[" in part):
            parts.append(str(part))
        previous = part
    return ".".join(parts)


_KINDS = {
    "event",
    "date",
    "schedule",
    "manual",
    "task",
    "checklist",
    "email",
    "sms",
    "set_status",
    "add_tag",
    "remove_tag",
    "webhook",
    "wait",
    "branch",
    "start_sop",
}


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


def _message_check(step: Any, *, subject: subjects.Subject, where: str) -> None:
    """A stored template of the step's channel, or a text that renders for this kind of subject.

    The text is rendered by the messaging app against example values of every
    variable the subject offers: a syntax error or an unknown variable is refused
    here, naming the line, not found in a customer's mail.
    """
    from procedo.messaging import rendering
    from procedo.messaging.models import Template

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
        return
    if step.kind == "email" and not step.subject.strip():
        raise DomainError(
            field=f"{where}.subject",
            message=_("%(where)s.subject: an email needs a subject line") % {"where": where},
        )
    example = {**rendering.sample_context(), "sop": {"name": "SOP"}}
    example.pop("discount_code")  # a campaign's variable; a run has none
    if subject.name != "order":
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


def _event_type(event_type: str, *, subject: subjects.Subject, field: str) -> None:
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


def _target(value: str, *, keys: set[str], field: str, allow_empty: bool) -> None:
    if (allow_empty and value == "") or value == END or value in keys:
        return
    raise DomainError(
        field=field,
        message=_("%(field)s: there is no step “%(key)s” in this SOP")
        % {"field": field, "key": value},
    )


def _assignee(assignee: Any, *, field: str) -> None:
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
    from procedo.orders.models import OrderStatus
    from procedo.sops.models import Sop

    definition = _shape(raw)
    subject = subjects.SUBJECTS[subject_type]
    out: dict[str, Any] = definition.model_dump(mode="json")

    trigger_keys: set[str] = set()
    manual = 0
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
        event_type = ""
        if trigger.kind == "event":
            _event_type(trigger.event_type, subject=subject, field=f"{where}.event_type")
            event_type = trigger.event_type
        elif trigger.kind == "date":
            spec = subject.fields.get(trigger.field)
            if spec is None or spec.type != subjects.DATETIME:
                dates = ", ".join(f.name for f in subject.date_fields()) or "—"
                raise DomainError(
                    field=f"{where}.field",
                    message=_(
                        "%(where)s.field: “%(name)s” is not a date of a %(subject)s (%(dates)s)"
                    )
                    % {
                        "where": where,
                        "name": trigger.field,
                        "subject": subject.name,
                        "dates": dates,
                    },
                )
        elif trigger.kind == "manual":
            manual += 1
            if manual > 1:
                raise DomainError(
                    field=f"{where}.kind",
                    message=_("%(where)s: an SOP has at most one manual trigger")
                    % {"where": where},
                )
        out["triggers"][index]["conditions"] = conditions_clean(
            trigger.conditions, subject=subject, event_type=event_type, field=f"{where}.conditions"
        )

    for index, rule in enumerate(definition.cancel_on):
        where = f"cancel_on.{index}"
        _event_type(rule.event_type, subject=subject, field=f"{where}.event_type")
        out["cancel_on"][index]["conditions"] = conditions_clean(
            rule.conditions,
            subject=subject,
            event_type=rule.event_type,
            field=f"{where}.conditions",
        )

    keys = [step.key for step in definition.steps]
    start_targets: dict[int, str] = {}
    steps: list[Any] = list(definition.steps)
    for index, step in enumerate(steps):
        where = f"steps.{index}"
        if step.key == END or step.key in keys[:index]:
            raise DomainError(
                field=f"{where}.key",
                message=_("%(where)s.key: “%(key)s” is taken; each step needs its own key")
                % {"where": where, "key": step.key},
            )
        _target(step.next, keys=set(keys), field=f"{where}.next", allow_empty=True)
        if step.kind in ("task", "checklist"):
            _assignee(step.assignee, field=f"{where}.assignee")
        if step.kind == "checklist":
            for item_index, item in enumerate(step.items):
                for option_index, option in enumerate(item.options):
                    _target(
                        option.goto,
                        keys=set(keys),
                        field=f"{where}.items.{item_index}.options.{option_index}.goto",
                        allow_empty=True,
                    )
            _target(step.on_fail, keys=set(keys), field=f"{where}.on_fail", allow_empty=True)
        elif step.kind in ("email", "sms"):
            if subject.customer_lookup is None:
                raise DomainError(
                    field=f"{where}.kind",
                    message=_("%(where)s: a %(subject)s has no customer to write to")
                    % {"where": where, "subject": subject.name},
                )
            _message_check(step, subject=subject, where=where)
        elif step.kind == "set_status":
            if subject.name != "order":
                raise DomainError(
                    field=f"{where}.kind",
                    message=_("%(where)s: only an order has a status to change") % {"where": where},
                )
            if not OrderStatus.objects.filter(code=step.status).exists():
                raise DomainError(
                    field=f"{where}.status",
                    message=_("%(where)s.status: no order status “%(code)s”")
                    % {"where": where, "code": step.status},
                )
        elif step.kind in ("add_tag", "remove_tag"):
            if subject.customer_lookup is None:
                raise DomainError(
                    field=f"{where}.kind",
                    message=_("%(where)s: a %(subject)s has no customer to tag")
                    % {"where": where, "subject": subject.name},
                )
        elif step.kind == "wait":
            if step.event_type:
                _event_type(step.event_type, subject=subject, field=f"{where}.event_type")
            out["steps"][index]["conditions"] = conditions_clean(
                step.conditions,
                subject=subject,
                event_type=step.event_type,
                field=f"{where}.conditions",
            )
            _target(step.on_timeout, keys=set(keys), field=f"{where}.on_timeout", allow_empty=True)
        elif step.kind == "branch":
            out["steps"][index]["conditions"] = conditions_clean(
                step.conditions, subject=subject, event_type="", field=f"{where}.conditions"
            )
            _target(step.then_step, keys=set(keys), field=f"{where}.then_step", allow_empty=False)
            _target(step.else_step, keys=set(keys), field=f"{where}.else_step", allow_empty=False)
        elif step.kind == "start_sop":
            target = Sop.objects.filter(pk=step.sop_id).values_list("subject_type", flat=True)
            found = list(target)
            if not found:
                raise DomainError(
                    field=f"{where}.sop_id",
                    message=_("%(where)s.sop_id: no SOP %(id)s")
                    % {"where": where, "id": step.sop_id},
                )
            if step.sop_id == sop_id:
                raise DomainError(
                    field=f"{where}.sop_id",
                    message=_("%(where)s.sop_id: an SOP cannot start itself") % {"where": where},
                )
            if found[0] != subject.name and not (
                subject.name == "order" and found[0] == "customer"
            ):
                raise DomainError(
                    field=f"{where}.sop_id",
                    message=_("%(where)s.sop_id: that SOP runs on a %(other)s, not a %(subject)s")
                    % {"where": where, "other": found[0], "subject": subject.name},
                )
            start_targets.setdefault(step.sop_id, f"{where}.sop_id")
    _cycle_check(sop_id=sop_id, targets=set(start_targets), field_of=start_targets)
    return out
