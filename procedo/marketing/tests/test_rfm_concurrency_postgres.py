"""Two RFM refreshes at once on PostgreSQL: MERGE would fail on the rows the first one
inserted, so the second waits its turn and then finds nothing to change."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from procedo.marketing.models import CustomerRfm
from procedo.marketing.services import rfm as rfm_services
from procedo.marketing.tests.conftest import store_make

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def test_a_second_refresh_waits_for_the_first_and_changes_nothing(postgres_only: None) -> None:
    store_make()
    outcome: dict[str, Any] = {}

    def second() -> None:
        try:
            outcome["result"] = rfm_services.rfm_refresh()
        except Exception as exc:  # the failure this test is about, reported below
            outcome["error"] = repr(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=second)
    with transaction.atomic():
        first = rfm_services.rfm_refresh()  # its inserts stay uncommitted until the block ends
        thread.start()
        waited = threading.Event()
        for _ in range(500):  # until the second refresh blocks on the first (at most 5 s)
            if _waiting_on_a_lock():
                break
            waited.wait(0.01)
        assert _waiting_on_a_lock() == 1
    thread.join(10)
    assert first["changed"] == 5
    assert outcome == {"result": {"scored": 5, "changed": 0, "removed": 0, "moved": 0}}
    assert CustomerRfm.objects.count() == 5
