"""The work shows what is needed to do it: a task about an order shows who ordered, how to
reach them, where the parcel goes and what is in it; the customer card shows their tasks
and every SOP run on them and their orders, by order number and name, never by id."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.roles import Role
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import customer, person, sop_live, task_step
from procedo.catalog.tests.factories import sku_create
from procedo.orders.models import Order
from procedo.orders.services.lines import DeliveryIn, OrderLineIn
from procedo.orders.services.taking import order_create
from procedo.work.services.lifecycle import task_complete, task_create

pytestmark = pytest.mark.django_db


def _order_for(buyer_id: int) -> Order:
    return order_create(
        lines=[
            OrderLineIn(sku_id=sku_create(code="CUP-BLUE", on_hand=10).pk, quantity=2),
            OrderLineIn(sku_id=sku_create(code="VASE-S", on_hand=5).pk, quantity=1),
        ],
        customer_id=buyer_id,
        delivery=DeliveryIn(
            carrier="nova_poshta", point="branch", city="Київ", branch="Відділення №12"
        ),
        payment_method="cod",
        actor=None,
        idempotency_key=None,
    )


def test_a_task_about_an_order_shows_customer_contacts_address_and_lines() -> None:
    operator = person(Role.OPERATOR)
    buyer = customer(
        first_name="Марина",
        last_name="Ткаченко",
        email="marina@example.com",
        phones=["067 123 45 67"],
    )
    order = _order_for(buyer.pk)
    task = task_create(
        title="Confirm by phone",
        subject_type="order",
        subject_id=order.pk,
        customer_id=buyer.pk,
        assignee_user_id=operator.pk,
    )
    client = Client()
    client.force_login(operator)

    page = client.get(reverse("work:detail", args=[task.pk])).content.decode()

    box = page[page.index('id="task-subject"') :]
    assert reverse("customers:card", args=[buyer.pk]) in box
    assert "Марина Ткаченко" in box
    assert 'href="tel:+380671234567"' in box
    assert 'href="mailto:marina@example.com"' in box
    assert "Київ, Відділення №12" in box
    assert "CUP-BLUE" in box and "VASE-S" in box
    assert f"Order #{order.number}" in box
    assert reverse("orders:detail", args=[order.pk]) in box


def test_a_task_about_something_else_shows_no_subject_box() -> None:
    operator = person(Role.OPERATOR)
    task = task_create(title="Tidy the shelf", assignee_user_id=operator.pk)
    client = Client()
    client.force_login(operator)
    page = client.get(reverse("work:detail", args=[task.pk])).content.decode()
    assert 'id="task-subject"' not in page


def test_the_customer_card_shows_open_and_done_tasks_and_runs_on_their_orders() -> None:
    manager = person(Role.MANAGER)
    buyer = customer(first_name="Марина", last_name="Ткаченко")
    stranger = customer(first_name="Інший")
    order = _order_for(buyer.pk)
    # The number is the store's counter, not the id: a page showing the id is caught.
    assert str(order.pk) != order.number
    open_task = task_create(
        title="Confirm by phone",
        subject_type="order",
        subject_id=order.pk,
        assignee_role="operator",
    )
    done_task = task_create(
        title="Ask for a review",
        subject_type="customer",
        subject_id=buyer.pk,
        assignee_user_id=manager.pk,
    )
    task_complete(task_id=done_task.pk, actor=manager)
    task_create(
        title="Someone else's",
        subject_type="customer",
        subject_id=stranger.pk,
        assignee_role="operator",
    )
    order_sop, _rev = sop_live(
        definition={"triggers": [{"kind": "manual", "key": "hand"}], "steps": [task_step()]},
        subject_type="order",
        name="Confirm new orders",
    )
    run = run_start_manual(
        sop_id=order_sop.pk,
        subject_type="order",
        subject_id=order.pk,
        actor=manager,
        idempotency_key="card-run",
    )
    client = Client()
    client.force_login(manager)

    page = client.get(reverse("customers:card", args=[buyer.pk])).content.decode()

    open_list = page[page.index('id="customer-open-tasks"') :]
    open_list = open_list[: open_list.index("</ul>")]
    done_list = page[page.index('id="customer-done-tasks"') :]
    done_list = done_list[: done_list.index("</ul>")]
    assert reverse("work:detail", args=[open_task.pk]) in open_list
    assert "Confirm by phone" in open_list and f"№ {order.number}" in open_list
    assert "Ask for a review" in done_list
    assert "Someone else" not in page
    assert reverse("automation:run", args=[run.pk]) in page
    assert f"Order {order.number}</a>" in page
    assert f"Order {order.pk}<" not in page

    run_page = client.get(reverse("automation:run", args=[run.pk])).content.decode()
    assert f"Order {order.number}</a>" in run_page
