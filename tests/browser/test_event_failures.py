"""An owner finds a stuck event from the navigation, sees why it failed, and retries it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from django.db import transaction

from procedo.accounts.roles import Role
from procedo.events import registry
from procedo.events.models import ConsumerFailure, Event, FailureState
from procedo.events.services import consumers, recording
from procedo.testing import browser_log_in
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_owner_retries_a_parked_event_from_the_page(
    page: Any, live_server: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    broken = {"yes": True}
    handled: list[int] = []

    def handler(events: Sequence[Event]) -> None:
        for event in events:
            if event.event_type == "order.created" and broken["yes"] and event.subject_id == 1042:
                raise KeyError("currency")
            handled.append(event.pk)

    registry.consumer_register(name="test.shop_sync", handler=handler, label="Shop sync")
    try:
        make_user(Role.OWNER, username="oksana", first_name="Оксана")
        with transaction.atomic():
            for number in (1041, 1042, 1043):
                recording.event_record(
                    event_type="order.created",
                    subject_type="order",
                    subject_id=number,
                    payload={"total": "1250.00", "currency": "UAH"},
                )
        deadline = time.monotonic() + 60
        # On PostgreSQL a transaction open elsewhere in the cluster may hold the reader back.
        while not ConsumerFailure.objects.exists():
            consumers.consumer_drain(name="test.shop_sync", handler=handler)
            assert time.monotonic() < deadline, "the consumer did not read the events"
            time.sleep(0.05)
        ConsumerFailure.objects.update(
            state=FailureState.PARKED, attempts=consumers.MAX_ATTEMPTS, next_attempt_at=None
        )

        browser_log_in(page, live_server, "oksana")
        link = page.locator(".sidenav a:has-text('Stuck events')")
        assert link.locator(".badge").inner_text() == "1"
        link.click()
        page.wait_for_selector("h1:has-text('Stuck events')")
        row = page.locator("tbody tr")
        assert row.count() == 1
        text = row.inner_text()
        assert "order.created" in text and "order #1042" in text and "Shop sync" in text
        assert "KeyError: 'currency'" in text and "8 of 8 tries" in text
        screenshot(page, "stuck-events")

        broken["yes"] = False
        row.locator("button:has-text('Retry')").click()
        page.wait_for_selector(".msg:has-text('went through')")
        assert page.locator("tbody tr").count() == 0
        assert page.locator(".sidenav a:has-text('Stuck events') .badge").count() == 0
        assert ConsumerFailure.objects.get().state == FailureState.RESOLVED
    finally:
        registry.consumer_unregister("test.shop_sync")
