"""The demo store runs the library of ready SOPs: published by the workflow, work in flight."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.accounts.services import team_create
from procedo.automation.models import Run, RunState
from procedo.automation.tests.helpers import person
from procedo.business import services as business_services
from procedo.demo.commerce import DemoSizes, demo_commerce_load
from procedo.demo.load import DEMO_STAFF
from procedo.demo.sops import demo_sops_load
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.sops.library import LIBRARY
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.testing import logged_in
from procedo.work.models import Task
from procedo.work.selectors import my_day

pytestmark = pytest.mark.django_db


def test_the_demo_store_publishes_the_sop_library() -> None:
    owner, manager = person(Role.OWNER), person(Role.MANAGER)
    team = team_create(name="Fulfilment", lead_id=None, actor=owner)
    demo_sops_load(owner=owner, reviewer=manager, team_id=team.pk)
    published = Revision.objects.filter(state=RevisionState.PUBLISHED).select_related("sop")
    assert sorted(str(r.sop.library_key) for r in published) == sorted(LIBRARY)


@pytest.fixture(scope="module")
def demo_store(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, User]]:
    """A small demo store (the real loader, fewer orders) with the library at work; once."""
    from procedo.demo.sops import demo_sops_load

    sizes = DemoSizes(customers=100, orders=250, days=30, live_days=4, duplicate_pairs=4, notes=6)
    with django_db_blocker.unblock(), transaction.atomic():
        order_pipeline_defaults_install()
        business_services.business_update(
            name="Demo", time_zone="Europe/Kyiv", currency="UAH", actor_id=None
        )
        owner = account_services.user_create(
            username="owner", password="x-pw-1234", role=Role.OWNER
        )
        staff = {
            username: account_services.user_create(
                username=username, password="x-pw-1234", role=role, actor=owner
            )
            for username, _first, _last, role in DEMO_STAFF
        }
        team = account_services.team_create(
            name="Fulfilment", lead_id=staff["olena"].pk, actor=owner
        )
        account_services.team_set_members(
            team_id=team.pk,
            member_ids=[staff["olena"].pk, staff["taras"].pk, staff["iryna"].pk],
            actor=owner,
        )
        demo_commerce_load(owner=owner, staff=staff, sizes=sizes)
        demo_sops_load(owner=owner, reviewer=staff["olena"], team_id=team.pk, staff=staff)
        yield {"owner": owner, **staff}
        transaction.set_rollback(True)


def test_the_demo_store_runs_the_published_library(demo_store: dict[str, User]) -> None:
    published = Sop.objects.filter(revisions__state=RevisionState.PUBLISHED)
    assert sorted(str(sop.library_key) for sop in published) == sorted(LIBRARY)
    # Reviewed by someone other than the author, as the workflow demands.
    approvals = {
        t.actor.username if t.actor else ""
        for t in Revision.objects.get(sop__library_key="complaint").transitions.all()
        if t.to_state == RevisionState.APPROVED
    }
    assert approvals == {"olena"}
    states = {
        key: set(Run.objects.filter(sop__library_key=key).values_list("state", flat=True))
        for key in LIBRARY
    }
    assert not Run.objects.filter(state=RunState.FAILED).exists()
    assert RunState.COMPLETED in states["order_fulfilment"]
    assert RunState.WAITING in states["order_fulfilment"]
    assert RunState.COMPLETED in states["vip_recognition"]
    assert RunState.COMPLETED in states["objection_handling"]
    assert RunState.WAITING in states["complaint"]
    assert RunState.WAITING in states["after_delivery"]  # started by the date sweep

    taras_day = my_day(user=demo_store["taras"])
    assert taras_day.overdue and taras_day.upcoming
    assert {t.checklist_kind for t in taras_day.overdue} == {"decision"}
    assert my_day(user=demo_store["iryna"]).queue  # the team's and the role's queue
    open_tasks = Task.objects.filter(state="open")
    assert open_tasks.filter(checklist_kind="decision", assignee_role="manager").exists()
    assert open_tasks.filter(title="Виправити помилку в посилці").exists()  # a failed check
    assert set(open_tasks.values_list("checklist_kind", flat=True)) >= {
        "decision",
        "verification",
        "simple",
        "detailed",
        "information",
    }


def test_the_demo_pages_show_the_work(demo_store: dict[str, User]) -> None:
    client = logged_in(demo_store["taras"])
    mine = client.get(reverse("work:mine")).content.decode()
    assert "Підтвердити замовлення дзвінком" in mine
    library_page = logged_in(demo_store["owner"]).get(reverse("sops:library")).content.decode()
    assert library_page.count('class="tag ok"') == len(LIBRARY)  # every entry installed
    assert "Install all" not in library_page
