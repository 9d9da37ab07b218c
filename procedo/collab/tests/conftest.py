from __future__ import annotations

from collections.abc import Callable

import pytest

from procedo.accounts.models import Team, User
from procedo.accounts.roles import Role
from procedo.customers.models import Customer
from procedo.orders.models import Order
from procedo.orders.tests.factories import order_create


@pytest.fixture
def customer(db: None) -> Customer:
    return Customer.objects.create(first_name="Марія", last_name="Коваль")


@pytest.fixture
def order(customer: Customer) -> Order:
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
