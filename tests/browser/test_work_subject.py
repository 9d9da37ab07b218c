"""An operator works a task about an order: the customer, a phone to tap, the address and the
lines are beside the checklist; from there to the customer's card, which shows their tasks
and SOP runs by order number; at desktop and phone size. Their dashboard shows no login IPs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from procedo.accounts.roles import Role
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import sop_live, task_step
from procedo.catalog.tests.factories import product_create, sku_create
from procedo.customers.services.customers import customer_create
from procedo.orders.services.lines import DeliveryIn, OrderLineIn
from procedo.orders.services.pipeline import order_pipeline_defaults_install
from procedo.orders.services.taking import order_create
from procedo.testing import PASSWORD
from procedo.work.services.lifecycle import task_complete, task_create
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine wake-ups: the runs here only need to exist, not to move."""
    monkeypatch.setattr("procedo.events.services.recording._wake_consumers", lambda: None)
    monkeypatch.setattr("procedo.automation.services.engine._wake", lambda: None)


@pytest.mark.parametrize("language", ["en", "uk"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_task_shows_what_is_needed_and_leads_to_the_customer(
    browser: Any, live_server: Any, make_user: Any, quiet: None, size: str, language: str
) -> None:
    order_pipeline_defaults_install()  # a transactional test starts from nothing
    olena = make_user(Role.OPERATOR, username="olena", first_name="Олена", last_name="Коваль")
    manager = make_user(Role.MANAGER, username="taras")
    buyer = customer_create(
        first_name="Марина",
        last_name="Ткаченко",
        phones=["067 123 45 67"],
        emails=["marina@example.com"],
    )
    cup = sku_create(product=product_create("Чашка керамічна"), code="CUP-BLUE", on_hand=12)
    order = order_create(
        lines=[OrderLineIn(sku_id=cup.pk, quantity=2)],
        customer_id=buyer.pk,
        delivery=DeliveryIn(
            carrier="nova_poshta", point="branch", city="Київ", branch="Відділення №12"
        ),
        payment_method="cod",
        actor=None,
        idempotency_key=None,
    )
    task = task_create(
        title="Confirm by phone",
        subject_type="order",
        subject_id=order.pk,
        customer_id=buyer.pk,
        assignee_user_id=olena.pk,
        checklist_kind="simple",
        checklist=[{"key": "called", "text": "Called the customer"}],
    )
    review = task_create(
        title="Ask for a review",
        subject_type="customer",
        subject_id=buyer.pk,
        assignee_user_id=olena.pk,
    )
    task_complete(task_id=review.pk, actor=olena)
    sop, _rev = sop_live(
        definition={"triggers": [{"kind": "manual", "key": "hand"}], "steps": [task_step()]},
        subject_type="order",
        name="Confirm new orders",
    )
    run_start_manual(
        sop_id=sop.pk,
        subject_type="order",
        subject_id=order.pk,
        actor=manager,
        idempotency_key="browser-run",
    )
    context = browser.new_context(viewport=SIZES[size], locale="en-GB")
    page = context.new_page()
    try:
        if language == "uk":
            context.add_cookies(
                [{"name": "django_language", "value": "uk", "url": live_server.url}]
            )
        page.goto(f"{live_server.url}/")
        page.fill("#id_username", "olena")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(f"html[lang='{language}']")
        # The operator's dashboard: no address anyone signed in from.
        assert "127.0.0.1" not in page.content()
        screenshot(page, f"work-dashboard-{size}-{language}")

        page.goto(live_server.url + reverse("work:detail", args=[task.pk]))
        box = page.locator("#task-subject")
        box.wait_for()
        assert box.locator("a[href='tel:+380671234567']").is_visible()
        assert box.locator("a[href='mailto:marina@example.com']").is_visible()
        assert "Київ, Відділення №12" in box.inner_text()
        assert "CUP-BLUE" in box.inner_text()
        assert order.number in box.inner_text()
        screenshot(page, f"work-task-{size}-{language}")

        card = reverse("customers:card", args=[buyer.pk])
        box.locator(f"a[href='{card}']").click()
        page.wait_for_selector("#customer-open-tasks")
        assert "Confirm by phone" in page.locator("#customer-open-tasks").inner_text()
        assert "Ask for a review" in page.locator("#customer-done-tasks").inner_text()
        runs = page.locator("a", has_text=order.number).count()
        assert runs >= 2  # the order's row and its SOP run
        word = "Замовлення" if language == "uk" else "Order"
        assert str(order.pk) != order.number
        assert not re.search(rf"{word} {order.pk}\b", page.locator("main").inner_text())
        screenshot(page, f"work-customer-{size}-{language}")

        page.goto(live_server.url + reverse("orders:detail", args=[order.pk]))
        page.locator(f"#order-card a[href='{card}']").first.click()
        page.wait_for_url(f"**{card}")
    finally:
        context.close()
