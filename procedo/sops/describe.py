"""A definition in words: what the SOP page shows and what a diff between revisions compares.

Each trigger and step kind has its sentence here; `procedo.sops.kinds` says which is
whose, and `trigger_text` / `step_text` look it up (imported when called: the registry
imports these functions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from procedo.sops import subjects
from procedo.work.models import ChecklistKind

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def duration_text(minutes: Any) -> str:
    """Minutes as people say them: "30 min", "2 hours", "14 days", "1 day 6 hours"."""
    try:
        total = int(minutes)
    except (TypeError, ValueError):
        return str(minutes)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("%(n)s day", "%(n)s days", days) % {"n": days})
    if hours:
        parts.append(ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours})
    if mins or not parts:
        parts.append(_("%(n)s min") % {"n": mins})
    return " ".join(parts)


def _field_label(subject: subjects.Subject, name: str, event_type: str) -> str:
    spec = subjects.field_get(subject, name, event_type)
    return str(spec.label) if spec else name


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def conditions_text(
    conditions: Mapping[str, Any] | None, *, subject_type: str, event_type: str = ""
) -> str:
    rules = list((conditions or {}).get("rules", []))
    if not rules:
        return ""
    subject = subjects.SUBJECTS[subject_type]
    parts = []
    for rule in rules:
        label = _field_label(subject, rule.get("field", ""), event_type)
        op = str(subjects.OPERATOR_LABELS.get(rule.get("op", ""), rule.get("op", "")))
        value = _value(rule.get("value"))
        parts.append(f"{label} {op} {value}".strip())
    joiner = _(" and ") if (conditions or {}).get("match", "all") == "all" else _(" or ")
    return joiner.join(parts)


def event_trigger_text(trigger: Mapping[str, Any], *, subject_type: str) -> str:
    spec = subjects.EVENTS.get(trigger.get("event_type", ""))
    return _("When: %(event)s") % {"event": spec.label if spec else trigger.get("event_type")}


def date_trigger_text(trigger: Mapping[str, Any], *, subject_type: str) -> str:
    subject = subjects.SUBJECTS[subject_type]
    return _("%(days)s days after %(field)s") % {
        "days": trigger.get("offset_days"),
        "field": _field_label(subject, trigger.get("field", ""), ""),
    }


def schedule_trigger_text(trigger: Mapping[str, Any], *, subject_type: str) -> str:
    every = trigger.get("every")
    if every == "week":
        days = ", ".join(WEEKDAYS[d] for d in trigger.get("weekdays", []))
        return _("Every %(days)s at %(time)s") % {"days": days, "time": trigger.get("time")}
    if every == "month":
        return _("Monthly on day %(day)s at %(time)s") % {
            "day": trigger.get("day_of_month"),
            "time": trigger.get("time"),
        }
    return _("Every day at %(time)s") % {"time": trigger.get("time")}


def manual_trigger_text(trigger: Mapping[str, Any], *, subject_type: str) -> str:
    return _("Started by a person")


def trigger_text(trigger: Mapping[str, Any], *, subject_type: str) -> str:
    """One line: when the SOP starts, and on which subjects."""
    from procedo.sops.kinds import TRIGGER_KINDS

    kind = TRIGGER_KINDS.get(str(trigger.get("kind")))
    text = kind.describe(trigger, subject_type=subject_type) if kind else str(trigger.get("kind"))
    where = conditions_text(
        trigger.get("conditions"),
        subject_type=subject_type,
        event_type=trigger.get("event_type", ""),
    )
    return _("%(what)s; if %(where)s") % {"what": text, "where": where} if where else text


def cancel_text(rule: Mapping[str, Any], *, subject_type: str) -> str:
    spec = subjects.EVENTS.get(rule.get("event_type", ""))
    text = _("Cancel when: %(event)s") % {"event": spec.label if spec else rule.get("event_type")}
    where = conditions_text(
        rule.get("conditions"), subject_type=subject_type, event_type=rule.get("event_type", "")
    )
    return _("%(what)s; if %(where)s") % {"what": text, "where": where} if where else text


def _assignee_text(assignee: Mapping[str, Any]) -> str:
    from procedo.accounts.models import Team, User

    kind = assignee.get("kind")
    if kind == "role":
        from procedo.accounts.roles import Role

        code = str(assignee.get("role"))
        return _("role %(role)s") % {"role": Role(code).label if code in Role.values else code}
    if kind == "team":
        team = Team.objects.filter(pk=int(assignee.get("team_id") or 0)).first()
        return _("team %(team)s") % {"team": team or assignee.get("team_id")}
    if kind == "user":
        user = User.objects.filter(pk=int(assignee.get("user_id") or 0)).first()
        return str(user or assignee.get("user_id"))
    return _("the SOP's owner")


def _item_text(item: Mapping[str, Any]) -> str:
    options = item.get("options") or []
    if not options:
        return str(item.get("text", ""))
    answers = ", ".join(
        f"{option.get('label')} → {option.get('goto')}"
        if option.get("goto")
        else option.get("label")
        for option in options
    )
    return f"{item.get('text')} ({answers})"


def person_step_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    """A task or a checklist: who, by when, and the checklist's items."""
    text = _("Task for %(who)s, due in %(time)s") % {
        "who": _assignee_text(step.get("assignee", {})),
        "time": duration_text(step.get("due_in_minutes")),
    }
    items = step.get("items") or [{"text": line} for line in step.get("checklist") or []]
    if items:
        kind_code = step.get("checklist_kind") or ChecklistKind.SIMPLE
        text += "; " + _("checklist (%(kind)s): %(items)s") % {
            "kind": ChecklistKind(kind_code).label if kind_code in ChecklistKind.values else "",
            "items": "; ".join(_item_text(item) for item in items),
        }
    if step.get("on_fail"):
        text += "; " + _("a failed check goes to %(step)s") % {"step": step["on_fail"]}
    return text


def email_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    if not step.get("subject"):
        return _("Email to the customer")
    return _("Email: %(subject)s") % {"subject": step.get("subject")}


def sms_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    if not step.get("body"):
        return _("SMS to the customer")
    return _("SMS: %(body)s") % {"body": (step.get("body") or "")[:80]}


def status_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    return _("Set the order's status to %(status)s") % {"status": step.get("status")}


def add_tag_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    return _("Tag the customer “%(tag)s”") % {"tag": step.get("tag")}


def remove_tag_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    return _("Untag the customer “%(tag)s”") % {"tag": step.get("tag")}


def webhook_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    return _("Call the webhook %(url)s") % {"url": step.get("url")}


def wait_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    if step.get("minutes"):
        return _("Wait %(time)s") % {"time": duration_text(step.get("minutes"))}
    spec = subjects.EVENTS.get(step.get("event_type", ""))
    return _("Wait for %(event)s (at most %(time)s, then %(then)s)") % {
        "event": spec.label if spec else step.get("event_type"),
        "time": duration_text(step.get("timeout_minutes")),
        "then": step.get("on_timeout") or _("the next step"),
    }


def branch_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    where = conditions_text(step.get("conditions"), subject_type=subject_type) or _("always")
    return _("If %(where)s go to %(then)s, else to %(else)s") % {
        "where": where,
        "then": step.get("then_step"),
        "else": step.get("else_step"),
    }


def start_sop_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    from procedo.sops.models import Sop

    sop = Sop.objects.filter(pk=int(step.get("sop_id") or 0)).first()
    return _("Start the SOP “%(name)s”") % {"name": sop or step.get("sop_id")}


def step_text(step: Mapping[str, Any], *, subject_type: str) -> str:
    """One line: what the step does (its title is shown beside it)."""
    from procedo.sops.kinds import STEP_KINDS

    kind = STEP_KINDS.get(str(step.get("kind")))
    text = kind.describe(step, subject_type=subject_type) if kind else str(step.get("kind"))
    if step.get("next"):
        text += " → " + str(step["next"])
    return text


# Where a step names another step, by its key; people read the other step's title instead.
_STEP_REFERENCES = ("next", "then_step", "else_step", "on_fail", "on_timeout")


def _looks_like_template(text: Any) -> bool:
    return "{{" in str(text or "") or "{%" in str(text or "")


def step_for_people(step: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a step for pages: other steps named by their titles (“Call the customer”,
    "the end"), and a message's text left out where it is template code."""
    from procedo.sops.schemas import END

    def named(key: Any) -> str:
        if key == END:
            return str(_("the end"))
        return f"“{titles.get(str(key), str(key))}”"

    people = dict(step)
    for field in _STEP_REFERENCES:
        if people.get(field):
            people[field] = named(people[field])
    if people.get("items"):
        people["items"] = [
            {
                **item,
                "options": [
                    {**option, "goto": named(option["goto"]) if option.get("goto") else ""}
                    for option in item.get("options") or []
                ],
            }
            for item in people["items"]
        ]
    for field in ("subject", "body"):
        if _looks_like_template(people.get(field)):
            people[field] = ""
    return people


def step_titles(definition: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(step.get("key")): str(step.get("title") or step.get("key"))
        for step in definition.get("steps", [])
    }


def definition_sentences(definition: Mapping[str, Any], *, subject_type: str) -> list[str]:
    """The definition as people read it on the SOP page: what starts it and each step in
    words, without step keys or the texts of messages (the revision page has those)."""
    lines = [
        _("Starts: %(when)s") % {"when": trigger_text(t, subject_type=subject_type)}
        for t in definition.get("triggers", [])
    ]
    lines += [
        cancel_text(rule, subject_type=subject_type) for rule in definition.get("cancel_on", [])
    ]
    titles = step_titles(definition)
    lines += [
        f"{index}. {step.get('title')}: "
        f"{step_text(step_for_people(step, titles), subject_type=subject_type)}"
        for index, step in enumerate(definition.get("steps", []), start=1)
    ]
    return lines


def definition_lines(definition: Mapping[str, Any], *, subject_type: str) -> list[str]:
    """The whole definition as lines of text, in a stable order (for reading and for diffs)."""
    lines = [
        f"{_('Trigger')} {t.get('key')}: {trigger_text(t, subject_type=subject_type)}"
        for t in definition.get("triggers", [])
    ]
    lines += [
        cancel_text(rule, subject_type=subject_type) for rule in definition.get("cancel_on", [])
    ]
    for index, step in enumerate(definition.get("steps", []), start=1):
        lines.append(
            f"{index}. {step.get('title')} [{step.get('key')}]: "
            f"{step_text(step, subject_type=subject_type)}"
        )
        if step.get("instructions"):
            lines.append(f"   {_('Instructions')}: {step['instructions']}")
        if step.get("body") and step.get("kind") == "email":
            lines.append(f"   {_('Body')}: {step['body']}")
    return lines
