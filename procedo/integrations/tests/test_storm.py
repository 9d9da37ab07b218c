"""R1 and R6 in the suite, small (two pairs of connections, ~45 deliveries); `make bench`
runs them larger (bench/r1_storm.py). The storm and what is checked: storm.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from procedo.integrations.tests import helpers, storm

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def r1_disturb(running: storm.Processes, k: int, figures: storm.Figures) -> None:
    """The web server, then the worker: SIGKILLed (with all they started), started again."""
    which = "worker" if k % 2 else "web"
    running.kill(which)
    figures.kills[which] += 1


def test_r1_killed_web_server_and_worker_lose_nothing_and_apply_each_delivery_once(
    tmp_path: Path,
) -> None:
    helpers.raw("shopify/order.json")  # skips, saying why, without ../shared
    figures = storm.storm_run("R1", var=tmp_path / "var", pairs=2, seed=1, disturb=r1_disturb)
    assert figures.kills == {"web": 1, "worker": 1}
    assert figures.statuses[401] >= figures.badly_signed >= 1


OUTAGE_SECONDS = 2.5


def database_outage_begin() -> Callable[[], None]:
    """Take the database away now; the function that gives it back.

    SQLite: another connection's write lock held on the file. PostgreSQL: the shared
    server cannot be restarted (others use it), so the test database refuses new
    connections and every connection to it is ended (pg_terminate_backend), the test's
    own too (storm.py opens it again)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        locker = sqlite3.connect(settings["NAME"], timeout=30, check_same_thread=False)
        locker.execute("BEGIN EXCLUSIVE")

        def unlock() -> None:
            locker.rollback()
            locker.close()

        return unlock
    name = settings["NAME"]
    side = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname="postgres",  # a database cannot refuse connections from inside itself
        autocommit=True,
    )
    side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    side.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )

    def reopen() -> None:
        side.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        side.close()

    return reopen


def r6_disturb(running: storm.Processes, k: int, figures: storm.Figures) -> threading.Thread:
    """The database goes away at once and comes back after OUTAGE_SECONDS, while the
    client keeps sending into the outage."""
    figures.outages += 1
    give_back = database_outage_begin()

    def later() -> None:
        time.sleep(OUTAGE_SECONDS)
        give_back()

    outage = threading.Thread(target=later)
    outage.start()
    return outage


@pytest.mark.parametrize("spool", ["on", "off"])
def test_r6_a_database_outage_never_gets_a_2xx_for_what_was_not_stored(
    tmp_path: Path, spool: str
) -> None:
    """Spooled, a delivery is on the disk before its 2xx and the web server keeps taking
    them while the database is away (a 503 only when a connection must be read again);
    stored directly, each is a 503 until the database is back. Either way the platform's
    retries complete the set (storm.check)."""
    helpers.raw("shopify/order.json")
    figures = storm.storm_run(
        "R6" if spool == "on" else "R6 (spool off)",
        var=tmp_path / "var",
        pairs=2,
        seed=2,
        disturb=r6_disturb,
        at=(0.3,),
        # A web request waits 1 s for a lock, not 5: the outage outlasts it.
        env={"PROCEDO_DB_LOCK_WAIT": "1", "PROCEDO_HOOK_SPOOL": spool},
    )
    assert figures.outages == 1
    assert set(figures.statuses) <= {202, 401, 503}, figures.statuses
    if spool == "off":
        assert figures.statuses[503] >= 1
