from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from procedo.accounts import services as account_services
from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.customers.models import Customer
from procedo.messaging.tests.conftest import SmtpServer, smtp, smtp_port  # noqa: F401
from procedo.orders import services as order_services
from procedo.orders.models import Order
from procedo.orders.tests.factories import order_create


@pytest.fixture
def customer(db: None) -> Customer:
    return Customer.objects.create(first_name="Марія", last_name="Коваль")


@pytest.fixture
def order(customer: Customer) -> Order:
    order_services.order_pipeline_defaults_install()
    return order_create(customer=customer)


@pytest.fixture
def olena(make_user: Callable[..., User]) -> User:
    return make_user(Role.OPERATOR, username="Олена", email="olena@example.com", first_name="Олена")


@pytest.fixture
def taras(make_user: Callable[..., User]) -> User:
    return make_user(Role.SUPPORT, username="taras", email="taras@example.com", first_name="Тарас")


@pytest.fixture
def warehouse(olena: User, taras: User) -> Team:
    team = Team.objects.create(name="Склад")
    team.members.add(olena, taras)
    return team


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def api_for() -> Callable[[User], Callable[..., Any]]:
    def make(user: User) -> Callable[..., Any]:
        issued = account_services.api_token_issue(
            user=user, name="t", expires_in_days=None, actor=user
        )
        client = Client()
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {issued.plaintext}"}

        def call(method: str, path: str, body: Any = None, **headers: str) -> Any:
            extra: dict[str, Any] = {
                f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()
            }
            if method == "get":
                return client.get(f"/api{path}", body or {}, **auth, **extra)
            return getattr(client, method)(
                f"/api{path}", body or {}, content_type="application/json", **auth, **extra
            )

        return call

    return make
