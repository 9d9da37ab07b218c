"""An export of many customers streams: the process serving it stays small.

PROCEDO_EXPORT_ROWS customers (40,000 in the suite: enough that holding them would
cross the bounds below, short enough for CI; `PROCEDO_EXPORT_ROWS=1000000` for the figures
in docs/architecture.md).

A first process makes the database (a SQLite file, or a PostgreSQL database of its own
beside the test database) and writes the customers set-based, as bench/b5_lists.py
does. A second process, fresh so that its peak resident memory (VmHWM, from /proc) is
the export's own, asks the customers page for the file through Django's whole request
path and reads it to the end; what it allocates from the request on is measured
(tracemalloc, and the resident peak against the resident size before the request).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/proc/self/status").exists(), reason="peak memory is read from Linux's /proc"
    ),
]

ROWS = int(os.environ.get("PROCEDO_EXPORT_ROWS", "40000"))
# What the export itself allocates in Python, traced from the request on (the process
# holds well over 100 MB of imports before it: Django, the app, numpy and scipy for the
# analytics). The request's path and a batch of 2,000 customers peak at 17-27 MB whatever
# the length (17-19 MB for a million once, 25-27 MB for 30,000 now); the rows held would
# add about 0.95 KB each (measured: 93 MB for 100,000), 38 MB for the suite's 40,000.
PYTHON_BOUND_MB = 40
# The process's resident memory from the request on: the Python above, plus on SQLite
# the page cache filling as the file is read, up to its 64 MB (cache_size in
# procedo/core/envconfig.py), then staying (measured: 77 MB at 100,000 customers,
# 115 MB at a million).
GROWTH_BOUND_MB = 160

_FILL = """
import sys
from datetime import timedelta
from decimal import Decimal
import django
django.setup()
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from procedo.accounts import services
call_command("migrate", verbosity=0)
services.user_create(username="owner", password="x" * 12, role="owner")
rows, now = int(sys.argv[1]), timezone.now()
adapt = connection.ops.adapt_datetimefield_value
names = [("Олена", "Коваленко"), ("Ґанна", "Їжак"), ("Taras", "Shevchenko")]
step = 20_000
for start in range(0, rows, step):
    customers, identities = [], []
    for pk in range(start + 1, min(rows, start + step) + 1):
        first, last = names[pk % 3]
        created = adapt(now - timedelta(minutes=rows - pk))
        customers.append((pk, first, last, "", "UA", "bench", None, "", "", created, pk % 7,
                          Decimal(pk % 100_000) / 100))
        identities.append((pk, "email", f"c{pk}@example.com", "", "unknown", "", created))
        identities.append((pk, "phone", f"+38067{pk:07d}", f"67{pk:07d}", "unknown", "", created))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO customers_customer (id, first_name, last_name, company, country,"
            " source, external_ref, search_text, name_key, created_at, orders_count,"
            " lifetime_value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            customers,
        )
        cursor.executemany(
            "INSERT INTO customers_identity (customer_id, kind, value, phone_tail,"
            " marketing_consent, consent_source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            identities,
        )
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
"""

_EXPORT = """
import json, re, sys, tempfile, time, tracemalloc, zipfile
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
from procedo.accounts.models import User

setup_test_environment()  # the test client's host is allowed

def status_mb(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) / 1024

client = Client()
client.force_login(User.objects.get(username="owner"))
before_mb = status_mb("VmRSS:")
tracemalloc.start()
started = time.monotonic()
response = client.get("/customers/export/", {"format": sys.argv[1]})
assert response.status_code == 200, response.status_code
size = lines = 0
with tempfile.TemporaryFile() as copy:
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\\n")
        copy.write(chunk)
    seconds = time.monotonic() - started
    python_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak_mb = status_mb("VmHWM:")
    if sys.argv[1] == "xlsx":  # count the sheet's rows, reading the zip as a stream
        copy.seek(0)
        lines, tail = 0, b""
        with zipfile.ZipFile(copy) as book, book.open("xl/worksheets/sheet1.xml") as sheet:
            while block := sheet.read(1 << 20):
                lines += (tail + block).count(b"<row ")
                tail = block[-4:]
print(json.dumps({"lines": lines, "bytes": size, "seconds": seconds, "peak_mb": peak_mb,
                  "before_mb": before_mb, "python_mb": python_mb}))
"""


def _run(script: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def database(tmp_path: Path) -> Any:
    """The environment of a database of the test's own: a file, or a PostgreSQL database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "PROCEDO_VAR": str(tmp_path / "var"),
    }
    env.pop("REDIS_URL", None)
    if connection.vendor != "postgresql":
        env.pop("DATABASE_URL", None)
        yield env
        return
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = f"{url.rsplit('/', 1)[1].split('?')[0]}_export_memory"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**env, "DATABASE_URL": url.rsplit("/", 1)[0] + "/" + name}
    finally:
        with psycopg.connect(admin, autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_long_customer_export_streams_in_bounded_memory(database: dict[str, str]) -> None:
    _run(_FILL, str(ROWS), env=database)

    # The database's part (rows streamed by cursor) is the same for both formats; writing
    # the workbook is not the database's, so PostgreSQL's run (the suite's longer) streams
    # the CSV and SQLite's both.
    for fmt in ("csv",) if connection.vendor == "postgresql" else ("csv", "xlsx"):
        outcome = json.loads(_run(_EXPORT, fmt, env=database).strip().splitlines()[-1])
        print(
            f"\n{connection.vendor}: {ROWS:,} customers as {fmt}: "
            f"{outcome['bytes'] / 1e6:.0f} MB in {outcome['seconds']:.0f} s, "
            f"peak RSS {outcome['peak_mb']:.0f} MB ({outcome['before_mb']:.0f} MB before it), "
            f"Python's peak {outcome['python_mb']:.1f} MB"
        )
        assert outcome["lines"] == ROWS + 1, outcome  # the header and every customer
        assert outcome["python_mb"] < PYTHON_BOUND_MB, outcome
        assert outcome["peak_mb"] - outcome["before_mb"] < GROWTH_BOUND_MB, outcome
