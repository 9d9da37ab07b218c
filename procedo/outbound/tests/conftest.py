from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from procedo.outbound.tests.receiver import Receiver, receiver_start


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A server on loopback, and the setting that lets webhooks post to loopback."""
    monkeypatch.setattr(settings, "PROCEDO_WEBHOOKS_ALLOW_PRIVATE", True, raising=False)
    found, stop = receiver_start()
    yield found
    stop()
