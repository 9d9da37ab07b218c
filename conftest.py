"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.testcases import LiveServerThread
from django.utils import translation

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.testing import PooledWSGIServer, SmtpServer, free_port, logged_in, person
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

# Set before pytest-django's live_server fixture builds its server thread.
LiveServerThread.server_class = PooledWSGIServer  # type: ignore[attr-defined]  # not in the stubs


def pytest_report_header(config: Any) -> str:
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postg") else "SQLite"
    redis = os.environ.get("REDIS_URL") or "not set (Redis tests skipped)"
    return f"procedo: database {backend}; REDIS_URL {redis}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that drives chromium is a browser test whether or not its module says so:
    # `make test-fast` (-m "not browser") must never start one.
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """The .mo catalogs are generated, not committed: compile the stale ones once per session."""
    call_command("compile_locale", verbosity=0)


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test starts in the project's language: a page a test opened in Ukrainian (the
    Accept-Language, a person's saved language) leaves it active in the thread otherwise,
    and the next test's services would write their texts in it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def order_pipeline(request: pytest.FixtureRequest) -> None:
    """The default order statuses and moves in every test that uses the database.

    Migration orders/0002 writes them, but a transactional test's flush empties every table,
    and the tests after it (of any app) make orders. Adds only what is missing."""
    if request.node.get_closest_marker("django_db") is None:
        if "transactional_db" in request.fixturenames:
            request.getfixturevalue("transactional_db")
        elif "db" in request.fixturenames:
            request.getfixturevalue("db")
        else:
            return
    from procedo.orders.services.pipeline import order_pipeline_defaults_install

    order_pipeline_defaults_install()


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wake-ups after commit: the test drives the consumer and the executor itself."""
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    monkeypatch.setattr("procedo.automation.services.engine._wake", lambda: None)


@pytest.fixture(autouse=True)
def email_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default transport's outbox, one per test: never the installation's var/outbox."""
    directory = tmp_path / "outbox"
    if settings.PROCEDO_EMAIL["backend"] == "outbox":
        monkeypatch.setattr(
            settings, "PROCEDO_EMAIL", {**settings.PROCEDO_EMAIL, "directory": str(directory)}
        )
    return directory


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """`make_user(role=OPERATOR, **fields)`: staff who log in with `procedo.testing.PASSWORD`."""

    def make(role: str = Role.OPERATOR, **extra: Any) -> User:
        return person(role, **extra)

    return make


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user(Role.OWNER, username="owner", first_name="Оксана", last_name="Литвиненко")


@pytest.fixture
def owner_client(owner: User) -> Client:
    return logged_in(owner)


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    """Email goes to this port on loopback; nothing listens unless the test starts `smtp`."""
    port = free_port()
    monkeypatch.setattr(
        settings,
        "PROCEDO_EMAIL",
        {
            "backend": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "username": "",
            "password": "",
            "ssl": False,
            "starttls": False,
            "timeout": 5.0,
        },
    )
    return port


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on `smtp_port`; `smtp.recorder` scripts its answers."""
    server = SmtpServer(smtp_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgresql://…")


@pytest.fixture(scope="session")
def live_server(django_db_setup: None, live_server: Any) -> Iterator[Any]:
    """pytest-django's live server, with a pool of request threads that keep their database
    connections (PooledWSGIServer, set below) and Nagle's algorithm off on its sockets.
    It stops before the test database goes: its threads' connections would keep it.

    Django's handler writes a response's headers and its body in two sends; with Nagle on,
    the body waits for the client's delayed ACK of the headers. Schemathesis spent most of
    its run on that wait (both processes asleep), and every browser test paid it too."""
    from django.test.testcases import QuietWSGIRequestHandler

    QuietWSGIRequestHandler.disable_nagle_algorithm = True
    yield live_server
    QuietWSGIRequestHandler.disable_nagle_algorithm = False


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls that
    # tests make between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()
