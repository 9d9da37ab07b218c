from __future__ import annotations

import pytest

from procedo.orders import services


@pytest.fixture(autouse=True)
def default_pipeline(db: None) -> None:
    # Another app's transactional test may have flushed the rows migration 0002
    # wrote; put back whatever is missing (it changes nothing that exists).
    services.order_pipeline_defaults_install()
