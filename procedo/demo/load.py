"""The demo store: deterministic (fixed seeds), loaded once, so every page has real-looking data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.db import transaction

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.business import services as business_services
from procedo.demo.commerce import FULL_SIZE, DemoSizes, demo_commerce_load
from procedo.demo.knowledge import demo_knowledge_load
from procedo.demo.sops import demo_sops_load
from procedo.sales.demo import demo_sales_load
from procedo.support.demo import demo_support_load

DEMO_OWNER = "owner"

# (username, first name, last name, role): a small shop's real staff mix.
DEMO_STAFF = [
    ("olena", "Олена", "Коваленко", Role.MANAGER),
    ("taras", "Тарас", "Шевчук", Role.OPERATOR),
    ("iryna", "Ірина", "Бондаренко", Role.OPERATOR),
    ("maksym", "Максим", "Мельник", Role.SUPPORT),
    ("sofia", "Софія", "Кравченко", Role.MARKETER),
    ("viewer", "Андрій", "Ткаченко", Role.VIEWER),
]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    created: bool


def demo_store_load(*, sizes: DemoSizes = FULL_SIZE) -> DemoLogin | None:
    """Load the demo store unless anyone has an account already; returns the new owner login.

    `sizes` smaller than the full store serve tests that need the whole demo, staff and
    SOPs and work in flight, in seconds (tests/browser/test_phone.py)."""
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(9)
    with transaction.atomic():
        business_services.business_update(
            name="Procedo Demo Store",
            time_zone="Europe/Kyiv",
            currency="UAH",
            language="uk",
            actor_id=None,
        )
        owner = account_services.user_create(
            username=DEMO_OWNER,
            password=password,
            role=Role.OWNER,
            email="owner@demo.procedo.local",
            first_name="Оксана",
            last_name="Литвиненко",
        )
        staff = {}
        for username, first, last, role in DEMO_STAFF:
            staff[username] = account_services.user_create(
                username=username,
                password=password,
                role=role,
                email=f"{username}@demo.procedo.local",
                first_name=first,
                last_name=last,
                actor=owner,
            )
        fulfilment = account_services.team_create(
            name="Fulfilment", lead_id=staff["olena"].pk, actor=owner
        )
        account_services.team_set_members(
            team_id=fulfilment.pk,
            member_ids=[staff["olena"].pk, staff["taras"].pk, staff["iryna"].pk],
            actor=owner,
        )
        care = account_services.team_create(
            name="Customer care", lead_id=staff["maksym"].pk, actor=owner
        )
        account_services.team_set_members(
            team_id=care.pk, member_ids=[staff["maksym"].pk, staff["iryna"].pk], actor=owner
        )
        demo_commerce_load(owner=owner, staff=staff, sizes=sizes)
        demo_sops_load(owner=owner, reviewer=staff["olena"], team_id=fulfilment.pk, staff=staff)
        demo_support_load(owner=owner, agent=staff["maksym"], team_id=care.pk)
        demo_knowledge_load(owner=owner)
        demo_sales_load(owner=owner, seller=staff["olena"])
    return DemoLogin(username=DEMO_OWNER, password=password, created=True)
