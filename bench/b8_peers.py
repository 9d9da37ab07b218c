"""B8: Procedo against two open-source Django CRMs from PyPI, same data, same engine, same run.

The peers are DjangoCRM (`django-crm-admin`) and MicroPyramid's Django-CRM
(`django-crm`). Each is installed into its own virtual environment under
`var/bench-peers/` (kept between runs; reinstalled when its pinned
requirements change) and runs in its own process on its own database (a
SQLite file in the SQLite pass, a `<bench database>_b8_<crm>` database in the
PostgreSQL pass); Procedo runs the same way on a fresh database of its own,
so nothing else the bench loaded is in its tables. All three load the same
customers and orders (100,000 and 300,000 at scale 1) from CSV files written
once per pass, then answer the same questions (bench/peers/harness.py):
the contact list's first page and a page 90 % deep, a search by a whole email
and by a name prefix, and 1,000 new contacts through each one's own write
path. Times are medians in milliseconds (ratio Procedo / peer: below 1 means
Procedo is ahead); creates are contacts per second (ratio above 1 means
Procedo is ahead).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from bench.b5_lists import FIRST, LAST
from bench.peers.harness import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / "peers"
CACHE = ROOT / "var" / "bench-peers"
CUSTOMERS_AT_SCALE_1 = 100_000
ORDERS_PER_CUSTOMER = 3
PAGE_SIZE = 50
NAME_PREFIX = "Олен"  # Олена: one customer in 18
CREATE_BATCHES = [100, 1_000, 1_000, 1_000]  # a warm-up, then the median of three
INSTALL_TIMEOUT = 1_800  # seconds for pip
WORKER_TIMEOUT = 4 * 3_600

# Emails are ASCII: both peers validate them with Django's EmailValidator.
LATIN = {
    "Олена": "olena",
    "Тарас": "taras",
    "Ірина": "iryna",
    "Максим": "maksym",
    "Софія": "sofiia",
    "Андрій": "andrii",
    "Наталія": "nataliia",
    "Богдан": "bohdan",
    "Дмитро": "dmytro",
    "Юлія": "yuliia",
}


@dataclass(frozen=True)
class Peer:
    name: str
    package: str
    version: str
    script: str  # in bench/peers, run with the peer's own python
    requirements: tuple[str, ...]  # installed next to `package`, which goes in with --no-deps
    procedo_layer: str  # "page" or "api": Procedo's side at the same layer as the peer's
    layer: str  # what is timed on the peer's side, for the report


PEERS = [
    # 1.7.0 is the newest release on Python 3.11: 2.x and 3.x pin Django 6 (Python >= 3.12).
    # Every release pins mysqlclient, which needs MySQL's client library to build and is
    # used only with MySQL; the pins below are 1.7.0's own for what its pages import.
    Peer(
        name="DjangoCRM",
        package="django-crm-admin",
        version="1.7.0",
        script="djangocrm.py",
        requirements=(
            "Django==5.2.9",
            "tendo==0.3.0",
            "requests==2.32.5",
            "pandas==2.3.3",
            "numpy==2.3.5",
            "geoip2==5.2.0",
            "psycopg[binary]>=3.2,<4",
        ),
        procedo_layer="page",
        layer="contact list page (admin changelist, 50 rows), ?q= search, the admin's add path",
    ),
    # 0.9.0 (2021) is the newest release; it declares no requirements. Its code needs
    # Django 3.x (ugettext_lazy, django.conf.urls.url) and djangorestframework-jwt (PyJWT 1).
    Peer(
        name="MicroPyramid Django-CRM",
        package="django-crm",
        version="0.9.0",
        script="micropyramid.py",
        requirements=(
            "Django==3.2.25",
            "djangorestframework==3.14.0",
            "drf-yasg==1.21.7",
            "djangorestframework-jwt==1.11.0",
            "PyJWT==1.7.1",
            "celery==5.3.6",
            "arrow==1.3.0",
            "django-phonenumber-field==5.2.0",
            "phonenumbers==8.13.55",
            "django-cors-headers==3.14.0",
            "python-dotenv==1.0.1",
            "six==1.17.0",
            "psycopg2-binary==2.9.10",
        ),
        procedo_layer="api",
        layer="contacts REST API (limit=50), ?email= and ?name= filters, its create serializers",
    ),
]

OPERATIONS = [
    ("first page", "list, first page"),
    ("deep page", "list, page at 90 %"),
    ("search email", "search by email"),
    ("search name prefix", f"search by name prefix ({NAME_PREFIX!r})"),
]


def sizes(scale: float) -> tuple[int, int]:
    """Customers and orders at this scale; refuses a scale that is not a positive number."""
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"B8: --scale must be a number greater than 0, not {scale!r}")
    customers = max(1_000, round(CUSTOMERS_AT_SCALE_1 * scale))
    return customers, customers * ORDERS_PER_CUSTOMER


def _email(first: str, number: int, domain: str = "example.com") -> str:
    return f"{LATIN.get(first, first.lower())}.{number}@{domain}"


def write_data(directory: Path, customers: int, orders: int) -> None:
    """The customers, orders, new contacts and questions every CRM gets, as files."""
    rng = random.Random(8)
    now = datetime.now(UTC).replace(microsecond=0)
    created = [now - timedelta(minutes=customers - i) for i in range(customers)]
    with (directory / "customers.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for i in range(customers):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            phone = f"+38067{i + 1:07d}"
            writer.writerow(
                [first, last, _email(first, i + 1), phone, created[i].isoformat(), "UA"]
            )
    with (directory / "orders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for k in range(orders):
            i = rng.randrange(customers)
            since = int((now - created[i]).total_seconds())
            placed = created[i] + timedelta(seconds=rng.randint(0, since))
            total = Decimal(rng.randint(10_000, 500_000)) / 100
            writer.writerow([i, f"B8-{k + 1:07d}", str(total), placed.isoformat()])
    with (directory / "creates.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for k in range(sum(CREATE_BATCHES)):
            first, last = FIRST[k % len(FIRST)], LAST[k % len(LAST)]
            # MicroPyramid refuses a first name that any contact already has.
            writer.writerow(
                [
                    f"{first}{k + 1}",
                    last,
                    _email(first, k + 1, "example.org"),
                    f"+38068{k + 1:07d}",
                    now.isoformat(),
                    "UA",
                ]
            )
    with (directory / "customers.csv").open(newline="", encoding="utf-8") as handle:
        middle = list(csv.reader(handle))[customers // 2]
    probes = {
        "page_size": PAGE_SIZE,
        "deep_offset": int(customers * 0.9),
        "email": middle[2],
        "name_prefix": NAME_PREFIX,
        "batch_sizes": CREATE_BATCHES,
    }
    (directory / "probes.json").write_text(json.dumps(probes), encoding="utf-8")


# ---------------------------------------------------------------- databases


def _postgres_url(database: str) -> str:
    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    netloc = f"{auth}@{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
    return urlunsplit(("postgresql", netloc, "/" + database, "", ""))


def _database(slug: str, directory: Path) -> str:
    """A fresh, empty database for one CRM, on the engine of this pass."""
    if connection.vendor == "sqlite":
        return f"sqlite:///{directory / f'b8-{slug}.sqlite3'}"
    name = f"{settings.DATABASES['default']['NAME']}_b8_{slug}"
    _postgres_execute(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    return _postgres_url(name)


def _database_drop(url: str) -> None:
    if url.startswith("postgresql"):
        name = urlsplit(url).path.lstrip("/")
        _postgres_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_execute(*statements: str) -> None:
    import psycopg

    # Connected to this pass's own database: CREATE/DROP DATABASE act on the others.
    with psycopg.connect(
        _postgres_url(settings.DATABASES["default"]["NAME"]), autocommit=True
    ) as admin:
        for statement in statements:
            admin.execute(statement)  # names built above, quoted


# ---------------------------------------------------------------- peers' venvs


def _venv(peer: Peer) -> Path | str:
    """The peer's python, installing it when needed; a reason (str) when it cannot be."""
    home = CACHE / f"{peer.package}-{peer.version}"
    python = home / "bin" / "python"
    wanted = "\n".join([f"{peer.package}=={peer.version}", *peer.requirements])
    stamp = home / "b8-installed.txt"
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    print(f"  B8   {peer.name}: installing {peer.package} {peer.version} into {home}", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(home)],
        [str(python), "-m", "pip", "install", "-q", "--no-deps", f"{peer.package}=={peer.version}"],
        [str(python), "-m", "pip", "install", "-q", *peer.requirements],
    ]
    for step in steps:
        try:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(step[2:5])} took over {INSTALL_TIMEOUT} s"
        if done.returncode != 0:
            return f"{' '.join(step[2:5])} failed: {_last_line(done.stderr or done.stdout)}"
    stamp.write_text(wanted, encoding="utf-8")
    return python


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines or ["no output"])[-1][:300]


# ---------------------------------------------------------------- workers


def _worker(
    name: str, command: list[str], env: dict[str, str], scratch: Path, *, timeout: float = 0
) -> dict[str, Any] | str:
    """Run one CRM's worker; its result, or why it did not run (str).

    Its progress lines are passed on as they come; stderr (DjangoCRM's
    background threads complain while the new database is being migrated) is
    kept in a file and only its last error is shown, when the worker fails.
    """
    errors = scratch / f"{name.replace(' ', '-')}.stderr"
    with errors.open("w+", encoding="utf-8") as stderr:
        try:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=scratch
            )
        except OSError as exc:
            return f"could not be started ({exc})"
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            process.kill()

        timer = threading.Timer(timeout or WORKER_TIMEOUT, stop)
        timer.start()
        result: dict[str, Any] | None = None
        try:
            with process:  # closes its stdout pipe, whatever happens
                assert process.stdout is not None
                for line in process.stdout:
                    if line.startswith(RESULT_PREFIX):
                        result = json.loads(line[len(RESULT_PREFIX) :])
                    else:
                        print(line, end="", flush=True)
                code = process.wait()
        finally:
            timer.cancel()
        if stopped.is_set():
            return f"stopped after {timeout or WORKER_TIMEOUT:g} s"
        stderr.seek(0)
        if code != 0 or result is None:
            return f"exited with {code}: {_last_line(stderr.read())}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_CONFIG_FILE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(extra)
    return env


def _run_procedo(data: Path, url: str) -> dict[str, Any] | str:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "bench.b8_procedo", "--db", url, "--data", str(data)]
    env["PYTHONPATH"] = str(ROOT)
    return _worker("Procedo", command, env, data)


def _run_peer(peer: Peer, data: Path, url: str) -> dict[str, Any] | str:
    python = _venv(peer)
    if isinstance(python, str):
        return f"could not be installed: {python}"
    command = [str(python), str(PEERS_DIR / peer.script), "--db", url, "--data", str(data)]
    return _worker(peer.name, command, _clean_env(), data)


# ---------------------------------------------------------------- report


def _report(procedo: dict[str, Any], peer: Peer, result: dict[str, Any]) -> None:
    ours_layer = "page /customers/" if peer.procedo_layer == "page" else "API /api/customers"
    print(
        f"  B8   vs {peer.name} {result['version']} ({peer.package}, Django {result['django']}):"
        f" {peer.layer}; Procedo's {ours_layer} and customer_create"
    )
    ours = procedo["reads_ms"][peer.procedo_layer]
    for key, label in OPERATIONS:
        mine, theirs = ours[key], result["reads_ms"][key]
        ratio = mine / theirs
        verdict = "Procedo ahead" if ratio < 1 else "Procedo NOT ahead"
        print(
            f"  B8     {label:<34} Procedo {mine:9.1f} ms  {peer.name.split()[0]:<12}"
            f" {theirs:9.1f} ms  ratio {ratio:6.3f} (goal < 1)  {verdict}"
        )
    mine, theirs = procedo["creates_per_s"], result["creates_per_s"]
    ratio = mine / theirs
    verdict = "Procedo ahead" if ratio > 1 else "Procedo NOT ahead"
    print(
        f"  B8     {'create 1,000 contacts':<34} Procedo {mine:9.0f} /s  {peer.name.split()[0]:<12}"
        f" {theirs:9.0f} /s  ratio {ratio:6.2f} (goal > 1)  {verdict}"
    )


def run(*, scale: float) -> bool:
    """Print B8's table for this pass; False when Procedo or a peer did not run."""
    customers, orders = sizes(scale)
    print(
        f"  B8   peers: {customers:,} customers and {orders:,} orders loaded into each CRM,"
        f" each on its own {connection.vendor} database; the CRMs run one after the other"
        f" (load average now {os.getloadavg()[0]:.1f})"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="procedo-b8-") as scratch:
        data = Path(scratch)
        write_data(data, customers, orders)
        url = _database("procedo", data)
        try:
            procedo = _run_procedo(data, url)
        finally:
            _database_drop(url)
        if isinstance(procedo, str):
            print(f"  B8   Procedo did not run: {procedo}")
            return False
        for peer in PEERS:
            slug = peer.package.replace("-", "_")
            url = _database(slug, data)
            try:
                result = _run_peer(peer, data, url)
            finally:
                _database_drop(url)
            if isinstance(result, str):
                print(f"  B8   {peer.name} {peer.version}: did not run, {result}; skipped")
                ok = False
                continue
            _report(procedo, peer, result)
    return ok
