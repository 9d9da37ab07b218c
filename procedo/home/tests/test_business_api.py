"""The business settings over the API: quiet hours come back in the form they are sent."""

from __future__ import annotations

from typing import Any

from django.test import Client

from procedo.accounts import services as account_services
from procedo.accounts.models import User


def test_quiet_hours_are_read_back_as_they_are_written(owner: User) -> None:
    token = account_services.api_token_issue(
        user=owner, name="settings", expires_in_days=None, actor=owner
    ).plaintext
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    client = Client()

    changed = client.patch(
        "/api/business",
        {"quiet_hours_start": "21:00", "quiet_hours_end": "09:30"},
        content_type="application/json",
        **auth,
    )

    assert changed.status_code == 200, changed.content
    read = client.get("/api/business", **auth).json()
    assert (read["quiet_hours_start"], read["quiet_hours_end"]) == ("21:00", "09:30")
    refused = client.patch(
        "/api/business", {"quiet_hours_end": "9:30pm"}, content_type="application/json", **auth
    )
    assert refused.status_code == 422 and refused.json()["field"] == "quiet_hours_end"
