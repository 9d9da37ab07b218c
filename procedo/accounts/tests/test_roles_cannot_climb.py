"""Nobody climbs above their role: not through the API, not through the pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from procedo.accounts import services
from procedo.accounts.models import ApiToken, User
from procedo.accounts.roles import Role
from procedo.testing import logged_in

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _api(user: User) -> tuple[Client, ApiToken]:
    issued = services.api_token_issue(user=user, name="t", expires_in_days=None, actor=user)
    return Client(headers={"Authorization": f"Bearer {issued.plaintext}"}), issued.token


@pytest.fixture
def staff(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "owner": make_user(Role.OWNER, username="oksana"),
        "manager": make_user(Role.MANAGER, username="olena"),
        "other_manager": make_user(Role.MANAGER, username="ihor"),
        "operator": make_user(Role.OPERATOR, username="taras"),
    }


def _role(user: User) -> str:
    user.refresh_from_db()
    return str(user.role)


def test_a_manager_cannot_make_anyone_an_owner(staff: dict[str, User]) -> None:
    client, _token = _api(staff["manager"])
    mine = client.patch(
        f"/api/accounts/users/{staff['manager'].pk}", {"role": "owner"}, content_type=JSON
    )
    assert mine.status_code == 403 and mine.json()["code"] == "role_too_high"
    assert mine.json()["field"] == "role"
    made = client.post(
        "/api/accounts/users",
        {"username": "new", "password": "a-long-pass-phrase-9", "role": "owner"},
        content_type=JSON,
    )
    assert made.status_code == 403 and not User.objects.filter(username="new").exists()
    page = logged_in(staff["manager"]).post(
        f"/accounts/users/{staff['operator'].pk}/role/", {"role": "owner"}, follow=True
    )
    assert "above your own" in page.content.decode()
    assert _role(staff["manager"]) == "manager" and _role(staff["operator"]) == "operator"


def test_a_manager_cannot_change_or_deactivate_an_owner(staff: dict[str, User]) -> None:
    client, _token = _api(staff["manager"])
    owner = staff["owner"]
    _owner_client, owner_token = _api(owner)
    for body in ({"role": "viewer"}, {"is_active": False}):
        response = client.patch(f"/api/accounts/users/{owner.pk}", body, content_type=JSON)
        assert response.status_code == 403 and response.json()["field"] == "user_id"
    logged_in(staff["manager"]).post(f"/accounts/users/{owner.pk}/active/", {"active": "0"})
    owner.refresh_from_db()
    owner_token.refresh_from_db()
    assert owner.is_active and owner.role == "owner" and owner_token.revoked_at is None


def test_people_of_the_same_role_or_below_may_be_changed(staff: dict[str, User]) -> None:
    client, _token = _api(staff["manager"])
    operator = staff["operator"]
    response = client.patch(
        f"/api/accounts/users/{operator.pk}",
        {"role": "support", "is_active": False},
        content_type=JSON,
    )
    assert response.status_code == 200
    assert response.json()["role"] == "support" and response.json()["is_active"] is False
    owner_client, _owner_token = _api(staff["owner"])
    promoted = owner_client.patch(
        f"/api/accounts/users/{staff['manager'].pk}", {"role": "owner"}, content_type=JSON
    )
    assert promoted.status_code == 200 and _role(staff["manager"]) == "owner"


def test_only_someone_above_may_revoke_another_persons_tokens(staff: dict[str, User]) -> None:
    manager_client, _token = _api(staff["manager"])
    _c, owner_token = _api(staff["owner"])
    _c, peer_token = _api(staff["other_manager"])
    _c, operator_token = _api(staff["operator"])
    for token in (owner_token, peer_token):
        response = manager_client.delete(f"/api/accounts/tokens/{token.pk}")
        assert response.status_code == 403, token
        token.refresh_from_db()
        assert token.revoked_at is None
    assert manager_client.delete(f"/api/accounts/tokens/{operator_token.pk}").status_code == 200
    operator_token.refresh_from_db()
    assert operator_token.revoked_at is not None


def test_staff_addresses_are_for_owners_only(
    staff: dict[str, User], make_user: Callable[..., User]
) -> None:
    operator = staff["operator"]
    services.user_logged_in(user=operator, ip="203.0.113.7")
    url = f"/api/events/subject/user/{operator.pk}"
    seen: dict[str, Any] = {}
    for role in ("owner", "manager", "operator"):
        client, _token = _api(staff[role])
        items = client.get(url).json()["items"]
        seen[role] = next(e["payload"] for e in items if e["event_type"] == "user.logged_in")
    assert seen["owner"]["ip"] == "203.0.113.7"
    assert seen["manager"]["ip"] != "203.0.113.7" and seen["operator"]["ip"] != "203.0.113.7"
    activity = logged_in(staff["manager"]).get("/activity/").content.decode()
    assert "203.0.113.7" not in activity
    assert "203.0.113.7" in logged_in(staff["owner"]).get("/activity/").content.decode()
