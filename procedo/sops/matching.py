"""Evaluating conditions: payload rules in memory, subject rules in SQL for a whole set at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import BooleanField, ExpressionWrapper, Q

from procedo.events.models import Event
from procedo.sops import subjects
from procedo.sops.schemas import Conditions

logger = logging.getLogger(__name__)


def conditions_q(subject: subjects.Subject, conditions: Conditions, *, now: datetime) -> Q | None:
    """The subject rules as one Q (None when there are none). Payload rules are left out."""
    parts = []
    for rule in conditions.rules:
        if rule.field.startswith(subjects.PAYLOAD_PREFIX):
            continue
        spec = subject.fields.get(rule.field)
        if spec is None:
            # Validated when saved; a field removed from the registry since then matches nothing.
            logger.warning("condition on unknown field %s of %s", rule.field, subject.name)
            return Q(pk__in=[])
        parts.append(subjects.rule_q(spec, rule.op, rule.value, now=now))
    if not parts:
        return None
    return subjects.combine(parts, conditions.match)


def subjects_matching(
    subject: subjects.Subject, conditions: Conditions, ids: Iterable[int], *, now: datetime
) -> set[int] | None:
    """Which of `ids` match the subject rules now (one query); None: there are no subject rules."""
    q = conditions_q(subject, conditions, now=now)
    if q is None:
        return None
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(
        subject.queryset().filter(pk__in=wanted).filter(q).values_list("pk", flat=True).order_by()
    )


_PayloadRule = subjects.PayloadPredicate


def _never(payload: Any) -> bool:
    return False


def _payload_rules(
    conditions: Conditions, event_type: str, subject: subjects.Subject
) -> list[_PayloadRule]:
    rules: list[_PayloadRule] = []
    for rule in conditions.rules:
        if rule.field.startswith(subjects.PAYLOAD_PREFIX):
            spec = subjects.field_get(subject, rule.field, event_type)
            rules.append(subjects.payload_predicate(spec, rule.op, rule.value) if spec else _never)
    return rules


def _payload_results(rules: list[_PayloadRule], payload: dict[str, Any]) -> list[bool]:
    return [rule(payload) for rule in rules]


def payload_may_match(
    subject: subjects.Subject, conditions: Conditions, events: Sequence[Event]
) -> list[Event]:
    """The events the conditions may still match once the subject is asked (a cheap prefilter).

    Only "all" conditions can rule an event out on its payload alone.
    """
    if conditions.match != "all":
        return list(events)
    rules_of: dict[str, list[_PayloadRule]] = {}
    kept = []
    for event in events:
        rules = rules_of.get(event.event_type)
        if rules is None:
            rules = rules_of[event.event_type] = _payload_rules(
                conditions, event.event_type, subject
            )
        if all(_payload_results(rules, event.payload or {})):
            kept.append(event)
    return kept


Verdict = bool | None  # None: the subject rules decide


def payload_verdicts(
    subject: subjects.Subject, conditions: Conditions, events: Sequence[Event]
) -> list[tuple[Event, Verdict]]:
    """Each event's verdict from its payload alone.

    With "all", an event its payload rules out is not asked in SQL; with "any",
    an event they let in needs no SQL; otherwise the subject rules decide.
    """
    if not conditions.rules:
        return [(event, True) for event in events]
    has_subject_rules = any(
        not rule.field.startswith(subjects.PAYLOAD_PREFIX) for rule in conditions.rules
    )
    every = conditions.match == "all"
    # With "all", passing the payload leaves the verdict to the subject rules (if any);
    # with "any", failing it does.
    on_pass: Verdict = (None if has_subject_rules else True) if every else True
    on_fail: Verdict = False if every else (None if has_subject_rules else False)
    tests: dict[str, Callable[[dict[str, Any]], bool]] = {}
    decided: list[tuple[Event, Verdict]] = []
    for event in events:
        test = tests.get(event.event_type)
        if test is None:
            test = tests[event.event_type] = _combined(
                _payload_rules(conditions, event.event_type, subject), every=every
            )
        decided.append((event, on_pass if test(event.payload or {}) else on_fail))
    return decided


def _combined(rules: list[_PayloadRule], *, every: bool) -> Callable[[dict[str, Any]], bool]:
    """The payload rules as one test. No rules: "all" passes (nothing failed), "any" fails."""
    if not rules:
        return (lambda payload: True) if every else (lambda payload: False)
    if len(rules) == 1:
        return rules[0]
    if every:
        return lambda payload: all(rule(payload) for rule in rules)
    return lambda payload: any(rule(payload) for rule in rules)


def subjects_matching_many(
    subject: subjects.Subject,
    conditions: dict[Any, Conditions],
    ids: Iterable[int],
    *,
    now: datetime,
) -> dict[Any, set[int]]:
    """For several sets of conditions at once, which of `ids` match each: one query.

    Each set is a boolean column of the same SELECT over the batch's subjects,
    so a batch costs one query per subject type, not one per trigger.
    """
    wanted = sorted(set(ids))
    found: dict[Any, set[int]] = {key: set() for key in conditions}
    columns: dict[str, tuple[Any, Q]] = {}
    for n, (key, rules) in enumerate(conditions.items()):
        q = conditions_q(subject, rules, now=now)
        if q is None:  # no subject rules: every subject matches
            found[key] = set(wanted)
        else:
            columns[f"m{n}"] = (key, q)
    if not wanted or not columns:
        return found
    annotations = {
        name: ExpressionWrapper(q, output_field=BooleanField())
        for name, (_key, q) in columns.items()
    }
    rows = (
        subject.queryset()
        .filter(pk__in=wanted)
        .annotate(**annotations)
        .values_list("pk", *annotations)
        .order_by()
    )
    names = list(annotations)
    for pk, *flags in rows:
        for name, flag in zip(names, flags, strict=True):
            if flag:
                found[columns[name][0]].add(pk)
    return found


def events_matching(
    subject: subjects.Subject,
    conditions: Conditions,
    events: Sequence[Event],
    *,
    now: datetime,
) -> list[Event]:
    """The events whose payload and subject satisfy the conditions (one query for the subjects)."""
    if not events:
        return []
    decided = payload_verdicts(subject, conditions, events)
    undecided = [int(event.subject_id or 0) for event, verdict in decided if verdict is None]
    in_sql = subjects_matching(subject, conditions, undecided, now=now) if undecided else set()
    return [
        event
        for event, verdict in decided
        if verdict or (verdict is None and in_sql is not None and event.subject_id in in_sql)
    ]


def subject_matches(
    subject: subjects.Subject, conditions: Conditions, subject_id: int, *, now: datetime
) -> bool:
    """One subject against subject-only conditions (branches, manual starts)."""
    if subject.name == "business":  # the one business: no row needed, no fields to ask
        return True
    if not conditions.rules:
        return subject.queryset().filter(pk=subject_id).exists()
    found = subjects_matching(subject, conditions, [subject_id], now=now)
    return found is None or subject_id in found


def date_window(
    *, now: datetime, zone: ZoneInfo, offset_days: int, catch_up_days: int
) -> tuple[datetime, datetime]:
    """(after, until] in UTC: dates whose `offset_days` later passed within the catch-up window.

    Computed on the wall clock of `zone`: 30 days after 10:00 is 10:00, across DST.
    """
    local_now = now.astimezone(zone)
    until = (local_now - timedelta(days=offset_days)).astimezone(UTC)
    after = (local_now - timedelta(days=offset_days + catch_up_days)).astimezone(UTC)
    return after, until
