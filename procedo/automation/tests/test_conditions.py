"""Payload conditions compiled once and tested in memory; subject conditions become one Q."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.sops import subjects

TOTAL = subjects.SubjectField("event.total", "total", subjects.NUMBER)
TO = subjects.SubjectField("event.to", "to", subjects.CHOICE)
TAG = subjects.SubjectField("event.tag", "tag", subjects.TEXT)


@pytest.mark.parametrize(
    ("spec", "op", "value", "payload", "expected"),
    [
        (TOTAL, "gte", "100", {"total": "100.00"}, True),
        (TOTAL, "gt", "100", {"total": "100.00"}, False),
        (TOTAL, "lt", "100", {"total": 99.5}, True),
        (TOTAL, "eq", "5", {"total": "lots"}, False),
        (TOTAL, "ne", "5", {}, True),
        (TO, "eq", "delivered", {"to": "delivered"}, True),
        (TO, "in", ["packed", "shipped"], {"to": "shipped"}, True),
        (TO, "not_in", ["packed", "shipped"], {"to": "new"}, True),
        (TO, "not_in", ["packed"], {}, True),
        (TAG, "contains", "vip", {"tag": "Гурт VIP"}, True),
        (TAG, "not_contains", "vip", {"tag": "Гурт"}, True),
        (TAG, "is_set", None, {"tag": ""}, False),
        (TAG, "is_not_set", None, {}, True),
    ],
)
def test_payload_predicates(
    spec: subjects.SubjectField, op: str, value: Any, payload: dict[str, Any], expected: bool
) -> None:
    assert subjects.payload_rule_matches(spec, op, value, payload) is expected


def test_values_are_normalised_or_refused() -> None:
    total = subjects.SUBJECTS["order"].fields["total"]
    assert subjects.value_clean(total, "gte", "99,50") == "99.50"
    placed = subjects.SUBJECTS["order"].fields["placed_at"]
    assert subjects.value_clean(placed, "older_than_days", "30") == 30
    with pytest.raises(subjects.BadValue):
        subjects.value_clean(placed, "within_days", "2.5")
    with pytest.raises(subjects.BadValue):
        subjects.value_clean(total, "eq", "NaN")
