from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from procedo.accounts import services
from procedo.accounts.models import ApiToken, User
from procedo.accounts.permissions import user_can
from procedo.accounts.roles import Role
from procedo.core.errors import Conflict, DomainError
from procedo.events.models import Event
from procedo.testing import PASSWORD, logged_in

pytestmark = pytest.mark.django_db


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_shown_once_and_stored_only_as_a_hash(owner: User) -> None:
    issued = services.api_token_issue(
        user=owner, name="shop sync", expires_in_days=None, actor=owner
    )
    stored = ApiToken.objects.get()
    assert issued.plaintext.startswith(f"pro_{stored.prefix}_")
    secret = issued.plaintext.split("_", 2)[2]
    assert secret not in stored.secret_hash and len(stored.secret_hash) == 64
    assert services.api_token_authenticate(plaintext=issued.plaintext) == owner
    assert Event.objects.filter(event_type="api_token.issued", subject_id=stored.pk).exists()


def test_api_answers_401_with_the_reason(owner: User) -> None:
    client = Client()
    assert client.get("/api/accounts/me").status_code == 401
    assert "Authentication required" in client.get("/api/accounts/me").json()["detail"]

    bad = client.get("/api/accounts/me", headers=_bearer("pro_nothing_here"))
    assert (bad.status_code, bad.json()["detail"]) == (401, "Invalid API token.")
    assert (
        client.get("/api/accounts/me", headers=_bearer("garbage")).json()["detail"]
        == "Malformed API token."
    )

    issued = services.api_token_issue(user=owner, name="ci", expires_in_days=1, actor=owner)
    assert (
        client.get("/api/accounts/me", headers=_bearer(issued.plaintext)).json()["username"]
        == "owner"
    )

    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get("/api/accounts/me", headers=_bearer(issued.plaintext))
    assert (expired.status_code, expired.json()["detail"]) == (401, "This API token has expired.")


def test_revoked_token_stops_working_at_once(owner: User) -> None:
    issued = services.api_token_issue(user=owner, name="old", expires_in_days=None, actor=owner)
    client = Client()
    response = client.delete(
        f"/api/accounts/tokens/{issued.token.pk}", headers=_bearer(issued.plaintext)
    )
    assert response.status_code == 200 and response.json()["revoked_at"]
    again = client.get("/api/accounts/me", headers=_bearer(issued.plaintext))
    assert (again.status_code, again.json()["detail"]) == (401, "This API token was revoked.")


def test_deactivating_a_person_revokes_their_tokens(owner: User, make_user) -> None:
    operator = make_user(Role.OPERATOR)
    issued = services.api_token_issue(user=operator, name="x", expires_in_days=None, actor=operator)
    services.user_set_active(user_id=operator.pk, active=False, actor=owner)
    with pytest.raises(services.TokenRejected):
        services.api_token_authenticate(plaintext=issued.plaintext)


def test_api_issues_a_token_through_the_session_and_validates_input(owner_client: Client) -> None:
    created = owner_client.post(
        "/api/accounts/tokens",
        {"name": "Інтеграція", "expires_in_days": 30},
        content_type="application/json",
    )
    assert created.status_code == 201 and created.json()["token"].startswith("pro_")
    bad = owner_client.post(
        "/api/accounts/tokens", {"name": "x", "expires_in_days": 0}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["field"] == "expires_in_days"
    assert ApiToken.objects.count() == 1


def test_a_role_without_permission_gets_403_and_no_data(make_user) -> None:
    viewer = make_user(Role.VIEWER)
    issued = services.api_token_issue(user=viewer, name="v", expires_in_days=None, actor=viewer)
    response = Client().get("/api/accounts/users", headers=_bearer(issued.plaintext))
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"detail", "field", "code"} and "accounts.manage" in body["detail"]
    assert body["code"] == "permission_denied"

    client = logged_in(viewer)
    page = client.get(reverse("accounts:users"))
    assert page.status_code == 403 and b"accounts.manage" in page.content
    assert b"<table" not in page.content


def test_permissions_follow_the_role_table(make_user) -> None:
    manager, viewer = make_user(Role.MANAGER), make_user(Role.VIEWER)
    assert user_can(manager, "accounts.manage") and not user_can(viewer, "accounts.manage")
    assert user_can(viewer, "events.view")
    with pytest.raises(ValueError):
        user_can(manager, "no.such.permission")


def test_the_last_owner_keeps_the_role(owner: User, make_user) -> None:
    with pytest.raises(Conflict) as caught:
        services.user_change_role(user_id=owner.pk, role=Role.VIEWER, actor=owner)
    assert caught.value.field == "role"
    second = make_user(Role.OWNER)
    services.user_change_role(user_id=owner.pk, role=Role.MANAGER, actor=second)
    owner.refresh_from_db()
    assert owner.role == Role.MANAGER
    event = Event.objects.get(event_type="user.role_changed")
    assert event.payload == {"from": "owner", "to": "manager"} and event.actor_id == second.pk


def test_user_create_refuses_bad_input_and_writes_nothing(owner: User) -> None:
    before = (User.objects.count(), Event.objects.count())
    for kwargs, field in [
        ({"username": "x1", "password": PASSWORD, "role": "boss"}, "role"),
        ({"username": "x2", "password": "123", "role": Role.VIEWER}, "password"),
        (
            {"username": "x3", "password": PASSWORD, "role": Role.VIEWER, "email": "not-mail"},
            "email",
        ),
        ({"username": "OWNER", "password": PASSWORD, "role": Role.VIEWER}, "username"),
    ]:
        with pytest.raises(DomainError) as caught:
            services.user_create(**kwargs, actor=owner)
        assert caught.value.field == field
    assert (User.objects.count(), Event.objects.count()) == before


def test_login_logout_and_password_change(owner: User) -> None:
    client = Client()
    bad = client.post(reverse("accounts:login"), {"username": "owner", "password": "wrong"})
    assert bad.status_code == 200 and b"do not match" in bad.content
    good = client.post(reverse("accounts:login"), {"username": "owner", "password": PASSWORD})
    assert good.status_code == 302
    assert Event.objects.filter(event_type="user.logged_in", subject_id=owner.pk).exists()

    changed = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Новий-пароль-2026",
            "new_password2": "Новий-пароль-2026",
        },
    )
    assert changed.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Новий-пароль-2026")
    assert Event.objects.filter(event_type="user.password_changed").count() == 1

    client.post(reverse("accounts:logout"))
    assert client.get(reverse("home:dashboard")).status_code == 302


def test_people_page_creates_a_person_with_a_form_error_for_bad_input(owner_client: Client) -> None:
    bad = owner_client.post(
        reverse("accounts:users"),
        {"username": "taras", "role": Role.OPERATOR, "password": "1"},
    )
    assert bad.status_code == 422 and User.objects.filter(username="taras").count() == 0
    good = owner_client.post(
        reverse("accounts:users"),
        {"username": "taras", "first_name": "Тарас", "role": Role.OPERATOR, "password": PASSWORD},
    )
    assert good.status_code == 302
    assert User.objects.get(username="taras").role == Role.OPERATOR


def test_profile_page_shows_the_new_token_once(owner_client: Client) -> None:
    response = owner_client.post(reverse("accounts:profile"), {"name": "Zapier"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert f"pro_{token.prefix}_".encode() in response.content
    assert (
        f"pro_{token.prefix}_".encode() not in owner_client.get(reverse("accounts:profile")).content
    )
    revoke = owner_client.post(
        reverse("accounts:token_revoke", args=[token.pk]), HTTP_HX_REQUEST="true"
    )
    assert revoke.status_code == 200 and b"revoked" in revoke.content
