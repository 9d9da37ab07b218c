from __future__ import annotations

import pytest


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wake-ups after commit: the test drives the consumer and the executor itself."""
    monkeypatch.setattr("procedo.events.services._wake_consumers", lambda: None)
    monkeypatch.setattr("procedo.automation.services.engine._wake", lambda: None)


@pytest.fixture(autouse=True)
def pipeline(request: pytest.FixtureRequest) -> None:
    """The default order pipeline (a transactional test's flush removes the data migration's)."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        return
    request.getfixturevalue("django_db_blocker")
    from procedo.orders.services import order_pipeline_defaults_install

    order_pipeline_defaults_install()
