"""The hook's spool: what is answered is on the disk first, then in the table once, whatever
is killed in between; a file left by a process that ended is moved by another."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from procedo.integrations import spool
from procedo.integrations.models import Connection, Delivery, SpoolProgress
from procedo.integrations.services import receiving, spooling, waking
from procedo.integrations.tests import helpers
from procedo.integrations.tests.helpers import body_of, resource
from procedo.orders.models import Order
from procedo.testing import in_threads


@pytest.fixture(autouse=True)
def movers_done() -> Iterator[None]:
    """A mover thread started by a test ends its work before the database is emptied."""
    yield
    assert spooling.spool_movers_wait(), "a spool mover is still at work"


def _meta(connection_id: int, event_id: str, state: str = "received") -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "received_at": datetime(2026, 12, 7, 10, 0, tzinfo=UTC).isoformat(),
        "topic": "orders/create",
        "event_id": event_id,
        "headers": {"X-Shopify-Webhook-Id": event_id},
        "state": state,
        "error": "",
        "error_field": "",
        "error_text": None,
    }


def _records(path: Path) -> list[spool.Record]:
    return list(spool.records_decode(path.read_bytes()))


def test_a_record_reads_back_whole_and_a_torn_or_damaged_one_ends_the_file(
    tmp_path: Path,
) -> None:
    bodies = [b'{"id": 1}', b"\x00\xffbinary", b"x" * 70_000]
    data = b"".join(spool.record_encode(_meta(7, f"e{n}"), body) for n, body in enumerate(bodies))
    records = list(spool.records_decode(data))
    assert [r.body for r in records] == bodies
    assert [r.meta["event_id"] for r in records] == ["e0", "e1", "e2"]
    assert records[-1].end == len(data)
    # Read from an offset, the ends are the file's.
    tail = list(spool.records_decode(data[records[0].end :], records[0].end))
    assert [r.end for r in tail] == [r.end for r in records[1:]]
    # Torn while written (the process killed): the whole ones before it.
    assert len(list(spool.records_decode(data[:-10]))) == 2
    # A byte changed: its CRC does not match, and nothing after it is trusted.
    damaged = bytearray(data)
    damaged[records[0].end + 20] ^= 0xFF
    assert len(list(spool.records_decode(bytes(damaged)))) == 1


@pytest.mark.parametrize("flush", [True, False])
def test_threads_appending_at_once_each_get_their_record_whole(tmp_path: Path, flush: bool) -> None:
    writer = spool.Spool(tmp_path, flush=flush)

    def append(thread: int) -> None:
        for n in range(50):
            writer.append(spool.record_encode(_meta(1, f"{thread}-{n}"), os.urandom(n * 37)))

    threads = [threading.Thread(target=append, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (path,) = spool.spool_files(tmp_path)
    records = _records(path)
    assert len(records) == 400 and records[-1].end == path.stat().st_size
    for t in range(8):  # each thread's in the order it wrote them
        mine = [r.meta["event_id"] for r in records if r.meta["event_id"].startswith(f"{t}-")]
        assert mine == [f"{t}-{n}" for n in range(50)]
    assert writer.backlog == path.stat().st_size


def test_a_record_the_disk_refused_half_way_is_cut_off_and_the_next_ones_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = spool.Spool(tmp_path, flush=True)
    writer.append(spool.record_encode(_meta(1, "before"), b"{}"))
    real_write_all = spool._write_all

    def disk_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "_write_all", disk_full)
    with pytest.raises(spool.SpoolError):
        writer.append(spool.record_encode(_meta(1, "refused"), b"x" * 5_000))
    monkeypatch.setattr(spool, "_write_all", real_write_all)
    writer.append(spool.record_encode(_meta(1, "after"), b"{}"))
    (path,) = spool.spool_files(tmp_path)
    assert [r.meta["event_id"] for r in _records(path)] == ["before", "after"]
    assert writer.current is not None and writer.current.size == path.stat().st_size


@pytest.mark.django_db(transaction=True)
def test_moved_once_into_the_table_and_a_full_file_deleted_when_all_of_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = helpers.connect("shopify")
    monkeypatch.setattr(spool, "ROTATE_BYTES", 3_000)  # a new file every few records
    writer = spool.Spool(tmp_path, flush=False)
    for n in range(10):
        writer.append(spool.record_encode(_meta(shop.pk, f"e{n}"), b"y" * 1_000))
    files = writer.files()
    assert len(files) >= 4 and files[-1] is writer.current
    assert spooling.spool_backlog(tmp_path) == writer.backlog > 0

    assert spooling.spool_move_own(writer) == 10
    stored = list(Delivery.objects.order_by("id"))
    assert [d.event_id for d in stored] == [f"e{n}" for n in range(10)]
    assert stored[0].received_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert bytes(stored[0].body) == b"y" * 1_000 and stored[0].attempts == 0
    assert stored[0].headers == {"X-Shopify-Webhook-Id": "e0"} and stored[0].error_text is None
    # The full files are gone with their progress; the one still written to stays.
    assert spool.spool_files(tmp_path) == [writer.current.path]
    assert list(SpoolProgress.objects.values_list("name", flat=True)) == [writer.current.path.name]
    assert writer.backlog == 0 == spooling.spool_backlog(tmp_path)
    # Again: nothing new, no query, nothing twice.
    assert spooling.spool_move_own(writer) == 0
    assert Delivery.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_moving_while_threads_append_and_files_fill_up_moves_each_record_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file may fill up and close between the mover reading its size and finishing with
    # it: what came in between must be moved before the file is deleted.
    shop = helpers.connect("shopify")
    monkeypatch.setattr(spool, "ROTATE_BYTES", 4_000)
    writer = spool.Spool(tmp_path, flush=False)
    writing = threading.Event()
    writing.set()

    def append(thread: int) -> Callable[[], None]:
        def run() -> None:
            for n in range(60):
                writer.append(spool.record_encode(_meta(shop.pk, f"{thread}-{n}"), b"z" * 300))

        return run

    def move() -> None:
        while writing.is_set():
            spooling.spool_move_own(writer)

    def appenders() -> None:
        in_threads(*(append(t) for t in range(4)), timeout=60)
        writing.clear()

    in_threads(appenders, move, timeout=60)
    spooling.spool_move_own(writer)
    event_ids = list(Delivery.objects.values_list("event_id", flat=True))
    assert len(event_ids) == 240 == len(set(event_ids))
    assert writer.backlog == 0 and len(spool.spool_files(tmp_path)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_move_killed_before_its_commit_leaves_nothing_and_the_next_moves_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = helpers.connect("shopify")
    writer = spool.Spool(tmp_path, flush=False)
    for n in range(5):
        writer.append(spool.record_encode(_meta(shop.pk, f"e{n}"), b"{}"))

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise OSError("killed between the rows and the progress")

    with monkeypatch.context() as patch:
        patch.setattr(SpoolProgress.objects, "update_or_create", killed)
        with pytest.raises(OSError):
            spooling.spool_move_own(writer)
    assert not Delivery.objects.exists() and not SpoolProgress.objects.exists()
    assert spooling.spool_move_own(writer) == 5
    for n in range(5, 8):
        writer.append(spool.record_encode(_meta(shop.pk, f"e{n}"), b"{}"))
    assert spooling.spool_move_own(writer) == 3
    assert sorted(Delivery.objects.values_list("event_id", flat=True)) == [
        f"e{n}" for n in range(8)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_record_the_database_refuses_is_kept_failed_and_holds_up_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waking, "deliveries_wake_soon", lambda: None)  # left as received
    shop = helpers.connect("shopify")
    writer = spool.Spool(tmp_path, flush=False)
    writer.append(spool.record_encode(_meta(shop.pk, "first"), b"{}"))
    # A record of another version of Procedo, without a topic: NOT NULL refuses the batch.
    odd = {k: v for k, v in _meta(shop.pk, "odd\x00one").items() if k != "topic"}
    writer.append(spool.record_encode(odd, b'{"id": 7}'))
    writer.append(spool.record_encode(_meta(shop.pk, "last"), b"{}"))

    assert spooling.spool_move_own(writer) == 3
    kept = {d.event_id: d for d in Delivery.objects.all()}
    assert set(kept) == {"first", "oddone", "last"}
    assert kept["first"].state == kept["last"].state == "received"
    odd_row = kept["oddone"]
    assert (odd_row.state, odd_row.topic, bytes(odd_row.body)) == ("failed", "", b'{"id": 7}')
    assert odd_row.error_shown.startswith("The database refused this delivery")
    assert writer.backlog == 0


_WRITE_AND_DIE = """
import os, sys
from procedo.integrations import spool
from pathlib import Path
import json
writer = spool.Spool(Path(sys.argv[1]), flush=True)
for n, meta in enumerate(json.loads(sys.argv[2])):
    writer.append(spool.record_encode(meta, b"body %d" % n))
os.write(writer.current.fd, spool.record_encode(meta, b"torn")[:-3])  # killed mid-write
os._exit(0)
"""


@pytest.mark.django_db(transaction=True)
def test_a_file_left_by_a_process_that_ended_is_moved_by_another_then_deleted(
    tmp_path: Path,
) -> None:
    import json

    shop, gone = helpers.connect("shopify"), helpers.connect("shopify", "Deleted since")
    metas = [_meta(shop.pk, "left-0"), _meta(gone.pk, "left-1"), _meta(shop.pk, "left-2")]
    subprocess.run(
        [sys.executable, "-c", _WRITE_AND_DIE, str(tmp_path), json.dumps(metas)],
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    gone.delete()  # its deliveries go with it, those still in the spool too
    # This process's own file, being written to, is not another's to take.
    mine = spool.Spool(tmp_path, flush=False)
    mine.append(spool.record_encode(_meta(shop.pk, "mine"), b"{}"))
    assert len(spool.spool_files(tmp_path)) == 2

    assert spooling.spool_adopt_left(tmp_path) == 2
    assert sorted(Delivery.objects.values_list("event_id", "body")) == [
        ("left-0", b"body 0"),
        ("left-2", b"body 2"),
    ]
    assert spool.spool_files(tmp_path) == [mine.current.path]  # type: ignore[union-attr]
    assert not SpoolProgress.objects.exists()
    assert spooling.spool_adopt_left(tmp_path) == 0


@pytest.mark.django_db(transaction=True)
def test_a_delivery_posted_with_the_spool_on_is_answered_then_moved_and_applied(
    tmp_path: Path,
) -> None:
    body = body_of(resource("shopify/order.json", "order"))
    shop = helpers.connect("shopify", "Spooled shop")
    with override_settings(PROCEDO_HOOK_SPOOL=tmp_path / "spool"):
        answer = helpers.shopify(Client(), shop, "orders/create", body, "spooled-1")
        # Stored on the disk; its row comes with its mover's next batch.
        assert answer.status_code == 202, answer.content
        assert answer.json() == {"detail": "Stored; it will be processed shortly."}
        (path,) = spool.spool_files(tmp_path / "spool")
        assert _records(path)[0].body == body
        deadline = time.monotonic() + 20
        while not Order.objects.exists():
            assert time.monotonic() < deadline, list(Delivery.objects.values("state", "error"))
            time.sleep(0.05)
    delivery = Delivery.objects.get()
    assert (delivery.event_id, bytes(delivery.body), delivery.state) == (
        "spooled-1",
        body,
        "processed",
    )
    assert delivery.headers["X-Shopify-Topic"] == "orders/create"


@pytest.mark.django_db(transaction=True)  # SQLite's safety level: outside a transaction
def test_the_spool_flushes_when_the_database_flushes_its_commits() -> None:
    # This suite's databases: SQLite's WAL with synchronous=NORMAL, PostgreSQL with fsync
    # off (.ci/run): neither flushes each commit, so neither does the spool.
    flushes = spooling.database_flushes_commits()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")
            assert flushes is (cursor.fetchone()[0] >= 2)
            cursor.execute("PRAGMA synchronous=FULL")
            assert spooling.database_flushes_commits() is True
            cursor.execute("PRAGMA synchronous=NORMAL")
        else:
            cursor.execute("SHOW fsync")
            fsync = cursor.fetchone()[0] == "on"
            assert flushes is fsync
            cursor.execute("SET synchronous_commit = off")
            assert spooling.database_flushes_commits() is False
            cursor.execute("RESET synchronous_commit")


@pytest.mark.django_db(transaction=True)
def test_spooled_a_pause_or_a_new_secret_takes_effect_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = body_of(resource("shopify/order.json", "order"))
    shop = helpers.connect("shopify", "Paused shop")
    client = Client()
    with override_settings(PROCEDO_HOOK_SPOOL=tmp_path / "spool"):
        assert helpers.shopify(client, shop, "orders/create", body, "before").status_code == 202
        Connection.objects.filter(pk=shop.pk).update(active=False)
        # The process read the connection less than KNOWN_FOR ago: taken, and kept.
        assert helpers.shopify(client, shop, "orders/create", body, "within").status_code == 202
        monkeypatch.setattr(receiving, "KNOWN_FOR", 0.0)  # as a second later
        assert helpers.shopify(client, shop, "orders/create", body, "after").status_code == 404
        deadline = time.monotonic() + 20
        while spooling.spool_backlog(tmp_path / "spool"):
            assert time.monotonic() < deadline, "the spool was never moved"
            time.sleep(0.05)
    assert sorted(Delivery.objects.values_list("event_id", flat=True)) == ["before", "within"]
