from __future__ import annotations

import pytest


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wake-ups after commit: the test drives the consumer and the executor itself."""
    monkeypatch.setattr("procedo.events.services._wake_consumers", lambda: None)
    monkeypatch.setattr("procedo.automation.services.engine._wake", lambda: None)


@pytest.fixture
def engine(quiet: None) -> None:
    """Tests that run SOPs are transactional (on PostgreSQL the engine reads only committed
    transactions), and a transactional test's flush removes the default order pipeline."""
    from procedo.orders.services import order_pipeline_defaults_install

    order_pipeline_defaults_install()
