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

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

PASSWORD = "correct-horse-battery-staple"


def pytest_report_header(config: Any) -> str:
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postg") else "SQLite"
    redis = os.environ.get("REDIS_URL") or "not set (Redis tests skipped)"
    return f"procedo: database {backend}; REDIS_URL {redis}"


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """The .mo catalogs are generated, not committed: compile the stale ones once per session."""
    call_command("compile_locale", verbosity=0)


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
    counter = iter(range(1, 10_000))

    def make(role: str = Role.OPERATOR, **extra: Any) -> User:
        username = extra.pop("username", f"{role}{next(counter)}")
        return account_services.user_create(
            username=username, password=PASSWORD, role=role, **extra
        )

    return make


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user(Role.OWNER, username="owner", first_name="Оксана", last_name="Литвиненко")


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgresql://…")


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
