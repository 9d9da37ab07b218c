"""Brute force on the log-in page: django-axes locks a username and an address, we record it."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from procedo.accounts import services
from procedo.accounts.clients import client_address
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.core.errors import DomainError, NotFound
from procedo.events.models import Event
from procedo.testing import PASSWORD, logged_in

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def _log_in(client: Client, username: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_31st_attempt_does_not_log_in_even_with_the_right_password(owner: User) -> None:
    client = Client()
    for _ in range(30):
        assert not _logged_in(client) and _log_in(client, "owner", "wrong").status_code in (
            200,
            429,
        )
    refused = _log_in(client, "owner", PASSWORD)
    assert refused.status_code == 429 and not _logged_in(client)
    assert refused["Retry-After"] == "900"
    page = refused.content.decode()
    assert "Too many failed log-ins for this account or from this address." in page
    assert "Try again in 15 minutes." in page
    assert 'id="id_password"' in page  # the log-in page, not a bare error
    assert client.get(reverse("home:dashboard")).status_code == 302
    assert not Event.objects.filter(event_type="user.logged_in").exists()


def test_the_limit_is_the_tenth_failure(owner: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _log_in(client, "owner", "wrong").status_code == 200
    assert _log_in(client, "owner", "wrong").status_code == 429
    assert _log_in(client, "owner", PASSWORD).status_code == 429


def test_the_lockout_is_one_event_in_the_audit_trail(owner: User) -> None:
    client = Client()
    for _ in range(30):
        _log_in(client, "owner", "wrong", address="203.0.113.7")
    event = Event.objects.get(event_type="user.locked_out")
    assert event.actor_label == "203.0.113.7" and event.actor_id is None
    assert (event.subject_type, event.subject_id) == ("user", owner.pk)
    assert event.payload == {
        "username": "owner",
        "address": "203.0.113.7",
        "locked": ["username", "address"],
        "failures": settings.AXES_FAILURE_LIMIT,
    }


def test_one_address_is_locked_whatever_usernames_it_tries(owner: User) -> None:
    guesser = Client()
    for number in range(settings.AXES_FAILURE_LIMIT):
        _log_in(guesser, f"admin{number}", "wrong", address="198.51.100.4")
    refused = _log_in(guesser, "owner", PASSWORD, address="198.51.100.4")
    assert refused.status_code == 429 and not _logged_in(guesser)

    event = Event.objects.get(event_type="user.locked_out")
    assert event.payload["locked"] == ["address"] and event.actor_label == "198.51.100.4"
    assert event.subject_id is None  # "admin9" is nobody's username

    # The owner, elsewhere, is not locked: ten wrong guesses at other names are not hers.
    elsewhere = Client()
    assert _log_in(elsewhere, "owner", PASSWORD, address="192.0.2.10").status_code == 302
    assert _logged_in(elsewhere)


def test_one_username_is_locked_from_every_address(owner: User) -> None:
    for number in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), "owner", "wrong", address=f"192.0.2.{number + 1}")
    assert _log_in(Client(), "owner", PASSWORD, address="192.0.2.200").status_code == 429
    assert Event.objects.get(event_type="user.locked_out").payload["locked"] == ["username"]


def test_a_manager_unlocks_a_username_from_the_people_page(
    owner_client: Client, make_user: Any
) -> None:
    make_user(Role.OPERATOR, username="taras")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), "taras", "wrong", address="203.0.113.9")

    people = owner_client.get(reverse("accounts:users"))
    assert [(lock.kind, lock.value) for lock in people.context["lockouts"]] == [
        ("username", "taras"),
        ("address", "203.0.113.9"),
    ]
    assert "Locked out" in people.content.decode()

    released = owner_client.post(
        reverse("accounts:lock_release"), {"kind": "username", "value": "taras"}
    )
    assert released.status_code == 302
    assert owner_client.get(reverse("accounts:users")).context["lockouts"] == []
    assert _log_in(Client(), "taras", PASSWORD, address="203.0.113.9").status_code == 302
    unlocked = Event.objects.get(event_type="user.unlocked")
    assert unlocked.payload == {"username": "taras", "attempts_cleared": 1}
    assert unlocked.actor_id == User.objects.get(username="owner").pk


def test_a_lockout_after_an_unlock_is_recorded_again(owner: User) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), "owner", "wrong", address="203.0.113.20")
    services.login_lock_release(kind="address", value="203.0.113.20", actor=owner)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), "owner", "wrong", address="203.0.113.20")
    assert Event.objects.filter(event_type="user.locked_out").count() == 2


def test_unlocking_needs_the_permission_and_names_what_is_wrong(
    owner: User, make_user: Any
) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _log_in(Client(), "owner", "wrong")
    viewer = logged_in(make_user(Role.VIEWER))
    refused = viewer.post(reverse("accounts:lock_release"), {"kind": "username", "value": "owner"})
    assert refused.status_code == 403
    assert _log_in(Client(), "owner", PASSWORD).status_code == 429

    for kind, value, field in [
        ("address", "not-an-ip", "value"),
        ("username", "  ", "value"),
        ("everyone", "owner", "kind"),
    ]:
        with pytest.raises(DomainError) as caught:
            services.login_lock_release(kind=kind, value=value, actor=owner)
        assert caught.value.field == field
    with pytest.raises(NotFound):
        services.login_lock_release(kind="username", value="nobody", actor=owner)
    assert not Event.objects.filter(event_type="user.unlocked").exists()


def test_a_good_log_in_clears_the_failures_before_it(owner: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _log_in(client, "owner", "wrong")
    assert _log_in(client, "owner", PASSWORD).status_code == 302
    client.post(reverse("accounts:logout"))
    assert _log_in(client, "owner", "wrong").status_code == 200  # counting starts again


def test_logging_in_as_oneself_does_not_reset_guesses_at_a_colleague(
    owner: User, make_user: Any
) -> None:
    make_user(Role.OPERATOR, username="insider")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _log_in(Client(), "owner", "guess", address="192.0.2.77")
    assert _log_in(Client(), "insider", PASSWORD, address="192.0.2.77").status_code == 302
    assert _log_in(Client(), "owner", "guess", address="192.0.2.77").status_code == 429


@override_settings(PROCEDO_PROXY_COUNT=1)
def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw() -> None:
    factory = RequestFactory()
    forwarded = factory.get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5"
    )
    assert client_address(forwarded) == "203.0.113.5"  # the left entry is the client's own text
    direct = factory.get("/", REMOTE_ADDR="10.0.0.2")
    assert client_address(direct) == "10.0.0.2"
    forged = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="<script>")
    assert client_address(forged) == "10.0.0.2"


def test_without_a_proxy_a_forwarded_header_is_ignored() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.8", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client_address(request) == "192.0.2.8"
