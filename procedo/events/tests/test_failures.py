"""A consumer never spins on one event: retried with backoff, parked, shown to a person."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.errors import Conflict, DomainError
from procedo.events import registry, selectors
from procedo.events.models import ConsumerFailure, Event, EventDailyCount, FailureState
from procedo.events.services import failures
from procedo.events.services.consumers import MAX_ATTEMPTS, retry_delay
from procedo.events.services.recording import event_record
from procedo.testing import bearer, consumer_catch_up, logged_in, oldest_transaction

# Transactional: on PostgreSQL a consumer reads only transactions that have ended.
pytestmark = pytest.mark.django_db(transaction=True)

NAME = "test.flaky"


class Flaky:
    """A handler that writes one row per event it handles, and raises on the `bad` ones."""

    def __init__(self, bad: set[int]) -> None:
        self.bad = bad
        self.calls_with_bad = 0

    def __call__(self, events: Sequence[Event]) -> None:
        for event in events:
            if event.event_type != "thing.happened":  # users and tokens the tests make
                continue
            i = event.payload["i"]
            if i in self.bad:
                self.calls_with_bad += 1
                raise RuntimeError(f"cannot handle {i}")
            # Its effect commits or rolls back with the savepoint it runs in; a
            # counter in memory could not tell a rolled-back try from a kept one.
            EventDailyCount.objects.create(
                day=event.occurred_at.date(), event_type=f"handled:{i}", count=1
            )


def _handled() -> list[int]:
    """The events whose effect committed, in the order it did (each row is one handling)."""
    names = EventDailyCount.objects.filter(event_type__startswith="handled:").order_by("id")
    return [int(name.split(":")[1]) for name in names.values_list("event_type", flat=True)]


def _record(items: Sequence[tuple[int, int]]) -> None:
    """One transaction of events (i, subject id)."""
    with transaction.atomic():
        for i, subject_id in items:
            event_record(
                event_type="thing.happened",
                subject_type="thing",
                subject_id=subject_id,
                payload={"i": i},
            )


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Flaky]]:
    # The tests' Huey is eager: a commit's wake-up would drain at the real time. Here
    # only the test drains, at the time it says.
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)

    def make(*, bad: set[int], ordered_by_subject: bool = False) -> Flaky:
        handler = Flaky(bad)
        registry.consumer_register(
            name=NAME, handler=handler, label="Flaky test", ordered_by_subject=ordered_by_subject
        )
        return handler

    yield make
    registry.consumer_unregister(NAME)


def _drain(now: datetime | None = None) -> None:
    """Drain the test consumer until it has read every event written so far."""
    consumer = registry.consumer_get(NAME)
    assert consumer is not None
    consumer_catch_up(
        name=NAME,
        handler=consumer.handler,
        ordered_by_subject=consumer.ordered_by_subject,
        batch_size=8,
        now=now,
    )


def _failure_of(i: int) -> ConsumerFailure:
    return ConsumerFailure.objects.select_related("event").get(event__payload__i=i)


def test_one_bad_event_is_retried_with_backoff_then_parked_while_the_rest_flow(
    register: Callable[..., Flaky], caplog: pytest.LogCaptureFixture
) -> None:
    handler = register(bad={7})
    _record([(i, i) for i in range(20)])
    start = timezone.now()
    caplog.set_level(logging.INFO, logger="procedo.events.services")

    _drain(now=start)
    # The good events around it are handled, each once, in order.
    assert _handled() == [i for i in range(20) if i != 7]
    failure = _failure_of(7)
    assert (failure.state, failure.attempts) == (FailureState.RETRYING, 1)
    assert failure.error == "RuntimeError: cannot handle 7"
    assert "cannot handle 7" in failure.traceback
    assert failure.next_attempt_at == start + retry_delay(1)
    # Finding it among 8 by halving: the batch, a half, a quarter, itself.
    found_with = handler.calls_with_bad
    assert found_with == 4

    # Wake-ups before its pause is over do not call the handler with it.
    for _ in range(5):
        _drain(now=start)
    assert handler.calls_with_bad == found_with

    now = start
    for attempt in range(2, MAX_ATTEMPTS + 1):
        due = now + retry_delay(attempt - 1)
        _drain(now=due - timedelta(milliseconds=1))
        assert _failure_of(7).attempts == attempt - 1
        _drain(now=due)
        failure = _failure_of(7)
        assert failure.attempts == attempt
        now = due
    assert retry_delay(1) == timedelta(seconds=1) and retry_delay(3) == timedelta(seconds=4)
    assert (failure.state, failure.next_attempt_at) == (FailureState.PARKED, None)
    assert handler.calls_with_bad == found_with + MAX_ATTEMPTS - 1

    # Parked: whatever the number of ticks, the handler never gets it again by itself.
    for hours in range(1, 40):
        _drain(now=now + timedelta(hours=hours))
    assert handler.calls_with_bad == found_with + MAX_ATTEMPTS - 1

    # The events after it keep flowing.
    _record([(20, 20), (21, 21)])
    _drain(now=now + timedelta(days=1))
    assert _handled() == [i for i in range(22) if i != 7]
    assert ConsumerFailure.objects.count() == 1

    # One line per failure, never a traceback.
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == MAX_ATTEMPTS
    assert all(r.exc_info is None for r in caplog.records)
    assert "attempt 1 of 8, next try in 1s: RuntimeError: cannot handle 7" in lines[0].getMessage()
    assert lines[-1].levelno == logging.ERROR and "parked event" in lines[-1].getMessage()


def test_a_failure_that_passes_on_a_later_try_resolves_by_itself(
    register: Callable[..., Flaky],
) -> None:
    handler = register(bad={1})
    _record([(0, 1), (1, 1), (2, 1)])
    start = timezone.now()
    _drain(now=start)
    assert _handled() == [0, 2]
    handler.bad.clear()  # the lock it waited for is gone, the row it needed exists now…
    _drain(now=start + retry_delay(1))
    assert _handled() == [0, 2, 1]
    failure = _failure_of(1)
    assert (failure.state, failure.attempts, failure.resolved_by) == (
        FailureState.RESOLVED,
        1,
        None,
    )
    assert selectors.consumer_failure_counts() == {"retrying": 0, "parked": 0, "waiting": 0}


def _park(i: int) -> ConsumerFailure:
    ConsumerFailure.objects.filter(event__payload__i=i).update(
        state=FailureState.PARKED, attempts=MAX_ATTEMPTS, next_attempt_at=None
    )
    return _failure_of(i)


def test_strict_order_holds_the_subjects_later_events_behind_a_failing_one(
    register: Callable[..., Flaky], owner: User
) -> None:
    handler = register(bad={1}, ordered_by_subject=True)
    # Subject 100: 0, 1 (bad), 2, 3; subject 200: 4…7, interleaved.
    _record([(0, 100), (4, 200), (1, 100), (5, 200), (2, 100), (6, 200), (3, 100), (7, 200)])
    start = timezone.now()
    _drain(now=start)
    assert _handled() == [0, 4, 5, 6, 7]
    assert _failure_of(1).state == FailureState.RETRYING
    assert [_failure_of(i).state for i in (2, 3)] == [FailureState.WAITING] * 2

    # Later events of the subject wait too; other subjects flow; a failed retry keeps them waiting.
    _record([(8, 100), (9, 200)])
    _drain(now=start + retry_delay(1))
    assert _handled() == [0, 4, 5, 6, 7, 9]
    assert _failure_of(1).attempts == 2
    assert _failure_of(8).state == FailureState.WAITING
    assert selectors.consumer_failure_counts() == {"retrying": 1, "parked": 0, "waiting": 3}

    # A waiting event is not retried on its own: that would break the subject's order.
    with pytest.raises(Conflict):
        failures.consumer_failure_retry(failure_id=_failure_of(2).pk, actor=owner)

    handler.bad.clear()
    failure = failures.consumer_failure_retry(failure_id=_failure_of(1).pk, actor=owner)
    assert failure.state == FailureState.RESOLVED and failure.resolved_by == owner
    # The bad one, then the ones that waited behind it, in the subject's order.
    assert _handled() == [0, 4, 5, 6, 7, 9, 1, 2, 3, 8]
    assert list(ConsumerFailure.objects.values_list("state", flat=True)) == ["resolved"]
    resolved = Event.objects.get(event_type="consumer_failure.resolved")
    assert resolved.payload == {"consumer": NAME, "event_id": failure.event_id, "attempts": 2,
                                "released": 3}  # fmt: skip
    assert resolved.actor_id == owner.pk

    # New events of the subject flow again.
    _record([(10, 100)])
    _drain(now=start + timedelta(minutes=1))
    assert _handled()[-1] == 10


def test_strict_order_dismissing_the_failing_event_lets_the_waiting_ones_through(
    register: Callable[..., Flaky], owner: User
) -> None:
    register(bad={0, 2}, ordered_by_subject=True)
    _record([(0, 100), (1, 100), (2, 100), (3, 100)])
    _drain()
    assert _handled() == []
    with pytest.raises(DomainError) as no_reason:
        failures.consumer_failure_dismiss(failure_id=_failure_of(0).pk, actor=owner, reason="  ")
    assert no_reason.value.field == "reason"

    failures.consumer_failure_dismiss(
        failure_id=_failure_of(0).pk, actor=owner, reason="Тестове замовлення, видалене"
    )
    # 1 goes through; 2 fails and becomes the subject's failing event; 3 waits behind it.
    assert _handled() == [1]
    assert [_failure_of(i).state for i in (0, 2, 3)] == ["dismissed", "retrying", "waiting"]
    assert _failure_of(0).note == "Тестове замовлення, видалене"
    assert not ConsumerFailure.objects.filter(event__payload__i=1).exists()
    dismissed = Event.objects.get(event_type="consumer_failure.dismissed")
    assert dismissed.payload["released"] == 1 and dismissed.actor_id == owner.pk


def test_the_owner_sees_parked_events_and_retries_one_after_the_fix(
    register: Callable[..., Flaky], owner_client: Client, make_user: Callable[..., User]
) -> None:
    handler = register(bad={3, 5})
    _record([(i, 40 + i) for i in range(6)])
    _drain()
    _park(3)

    page = owner_client.get("/activity/failures/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "RuntimeError: cannot handle 3" in html and "RuntimeError: cannot handle 5" in html
    assert "thing.happened" in html and "thing #43" in html and "Flaky test" in html
    assert f"{MAX_ATTEMPTS} of {MAX_ATTEMPTS} tries" in html
    # The navigation shows an owner how many events wait for them.
    assert 'Stuck events <span class="badge">1</span>' in html

    operator = make_user(Role.OPERATOR)
    forbidden = logged_in(operator)
    assert forbidden.get("/activity/failures/").status_code == 403
    assert "Stuck events" not in forbidden.get("/activity/").content.decode()

    parked = _failure_of(3)
    still = owner_client.post(f"/activity/failures/{parked.pk}/retry/", {"show": "parked"})
    assert still.status_code == 302 and still["Location"] == "/activity/failures/?show=parked"
    assert (_failure_of(3).state, _failure_of(3).attempts) == (FailureState.PARKED, 9)
    assert Event.objects.filter(event_type="consumer_failure.retry_failed").count() == 1

    handler.bad.clear()
    done = owner_client.post(f"/activity/failures/{parked.pk}/retry/", follow=True)
    assert "went through" in done.content.decode()
    assert _failure_of(3).state == FailureState.RESOLVED
    assert sorted(_handled()) == [0, 1, 2, 3, 4]
    # A second click (another tab, a double click) retries nothing.
    owner_client.post(f"/activity/failures/{parked.pk}/retry/")
    assert _handled().count(3) == 1
    assert Event.objects.filter(event_type="consumer_failure.resolved").count() == 1

    other = _failure_of(5)
    refused = owner_client.post(f"/activity/failures/{other.pk}/dismiss/", {"reason": ""})
    assert refused.status_code == 422 and "Say why" in refused.content.decode()
    assert _failure_of(5).state == FailureState.RETRYING
    owner_client.post(f"/activity/failures/{other.pk}/dismiss/", {"reason": "duplicate"})
    assert _failure_of(5).state == FailureState.DISMISSED
    assert "No events in this list." in owner_client.get("/activity/failures/").content.decode()
    listed = owner_client.get("/activity/failures/?show=dismissed").content.decode()
    assert "duplicate" in listed


def test_the_api_lists_retries_and_dismisses_failures(
    register: Callable[..., Flaky], owner: User, make_user: Callable[..., User]
) -> None:
    handler = register(bad={2, 4})
    _record([(i, 7) for i in range(6)])
    _drain()
    _park(2)
    client, auth = Client(), bearer(owner)

    listed = client.get("/api/events/failures", **auth)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [(item["event"]["payload"]["i"], item["state"]) for item in items] == [
        (4, "retrying"),
        (2, "parked"),
    ]
    assert items[1]["consumer"] == NAME and items[1]["consumer_label"] == "Flaky test"
    assert items[1]["error"] == "RuntimeError: cannot handle 2"
    assert items[1]["event"]["subject_type"] == "thing" and items[1]["event"]["subject_id"] == 7
    parked = client.get("/api/events/failures", {"show": "parked"}, **auth).json()["items"]
    assert [item["id"] for item in parked] == [items[1]["id"]]
    bad_filter = client.get("/api/events/failures", {"show": "everything"}, **auth)
    assert bad_filter.status_code == 422 and bad_filter.json()["field"] == "show"

    handler.bad.clear()
    retried = client.post(f"/api/events/failures/{items[1]['id']}/retry", **auth)
    assert retried.status_code == 200 and retried.json()["state"] == "resolved"
    assert retried.json()["resolved_by_id"] == owner.pk
    assert 2 in _handled()

    def dismiss(failure_id: int, body: dict[str, Any]) -> Any:
        return client.post(
            f"/api/events/failures/{failure_id}/dismiss",
            json.dumps(body),
            content_type="application/json",
            **auth,
        )

    empty = dismiss(items[0]["id"], {"reason": ""})
    assert empty.status_code == 422 and empty.json()["field"] == "reason"
    assert dismiss(items[0]["id"], {"reason": "x" * 501}).status_code == 422
    dismissed = dismiss(items[0]["id"], {"reason": "handled by hand"})
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    assert dismissed.json()["note"] == "handled by hand"
    resolved_once = dismiss(items[1]["id"], {"reason": "too late"})
    assert resolved_once.status_code == 409 and resolved_once.json()["field"] == "state"
    assert client.post("/api/events/failures/999999/retry", **auth).status_code == 404
    assert client.get("/api/events/failures", **auth).json()["items"] == []

    operator = make_user(Role.OPERATOR)
    denied = Client().get("/api/events/failures", **bearer(operator))
    assert denied.status_code == 403


def test_the_minute_tick_survives_a_failing_consumer_without_a_traceback(
    register: Callable[..., Flaky], caplog: pytest.LogCaptureFixture
) -> None:
    from procedo.events.tasks import events_tick

    handler = register(bad={0})
    _record([(0, 1)])
    caplog.set_level(logging.INFO)
    deadline = time.monotonic() + 120
    while not ConsumerFailure.objects.exists():  # PostgreSQL: the horizon may hold it a moment
        events_tick.call_local()
        assert time.monotonic() < deadline, f"held back by {oldest_transaction()}"
        time.sleep(0.05)
    assert handler.calls_with_bad == 1

    later = timezone.now() + timedelta(hours=1)
    ConsumerFailure.objects.update(next_attempt_at=later)
    for _ in range(5):
        events_tick.call_local()
    assert handler.calls_with_bad == 1
    ConsumerFailure.objects.update(next_attempt_at=timezone.now())
    events_tick.call_local()
    assert handler.calls_with_bad == 2 and _failure_of(0).attempts == 2
    assert not [r for r in caplog.records if r.exc_info]


def test_the_page_speaks_ukrainian(register: Callable[..., Flaky], owner_client: Client) -> None:
    register(bad={0, 1}, ordered_by_subject=True)
    _record([(0, 5), (1, 6), (2, 6)])
    _drain()
    _park(0)
    # The locale middleware leaves the request's language active in this thread;
    # the tests after this one expect English.
    with translation.override("en"):
        owner_client.post("/i18n/setlang/", {"language": "uk", "next": "/"})
        page = owner_client.get("/activity/failures/").content.decode()
    for text in (
        "Застряглі події",
        "Коли частина Procedo не може обробити подію",
        "спроб: 8 з 8",
        "спроб: 1 з 8",
        "відкладено",
        "повторюється",
        "Чекає за ранішою подією того самого об’єкта.",
        "Потребують обробки",
        "Повторити",
        "Відхилити",
        "наступна спроба",
    ):
        assert text in page, text
    for english in ("Stuck events", "tries", "Retry", "Waits behind", "next try", "parked<"):
        assert english not in page, english


def test_the_list_and_the_counts_are_one_query_each(
    register: Callable[..., Flaky], django_assert_num_queries: Any
) -> None:
    register(bad={0, 1, 2})
    _record([(0, 1), (1, 2), (2, 3), (3, 4)])
    _drain()
    with django_assert_num_queries(1):
        page = selectors.consumer_failures(show="open", limit=2)
        described = [(f.event.event_type, f.event.subject_id, f.resolved_by) for f in page.failures]
    assert described == [("thing.happened", 3, None), ("thing.happened", 2, None)]
    assert page.next_before == page.failures[-1].id
    rest = selectors.consumer_failures(show="open", before=page.next_before, limit=2)
    assert [f.event.subject_id for f in rest.failures] == [1] and rest.next_before is None
    with django_assert_num_queries(1):
        assert selectors.consumer_failure_counts() == {"retrying": 3, "parked": 0, "waiting": 0}
