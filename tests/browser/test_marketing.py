"""Build a segment with two rules and watch its count change; send a campaign from it to the
SMTP server on loopback with a holdout; open its counts. Desktop and phone."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.marketing.models import CampaignRecipient
from procedo.marketing.tests.conftest import Store, quiet_hours_off, store_make
from procedo.messaging.services.sending import messages_send_due
from procedo.messaging.services.templates import template_save
from procedo.testing import PASSWORD, SmtpServer
from tests.browser.conftest import htmx_settled, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def store(transactional_db: None) -> Store:
    quiet_hours_off()
    return store_make()


def _log_in(page: Any, url: str) -> None:
    page.goto(f"{url}/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _count(page: Any, expected: str) -> None:
    page.wait_for_function(
        "n => document.querySelector('#segment-count')?.textContent.trim() === n", arg=expected
    )


def test_a_segment_built_with_two_rules_becomes_a_campaign_with_a_holdout_and_its_counts(
    browser: Any,
    page: Any,
    live_server: Any,
    owner: Any,
    store: Store,
    smtp: SmtpServer,
) -> None:
    template_save(
        template_id=None,
        key="comeback",
        name="Come back",
        channel="email",
        kind="marketing",
        subject="{{ customer.first_name }}, ми сумуємо",
        body_text="Повертайтеся: −10% з кодом COMEBACK10.",
    )
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/marketing/segments/new/")
    # The starting rule, "orders at least 1": everyone who bought. The name is still empty:
    # the count follows anyway (the form is checked when it is saved, not while edited).
    _count(page, "5")
    page.click("#rule-add")
    page.wait_for_selector("#rule-1-field")
    htmx_settled(page)
    page.select_option("#rule-1-field", "email_consent")
    page.wait_for_selector("#rule-1-value option[value=granted]", state="attached")
    page.select_option("#rule-1-value", "granted")
    _count(page, "3")  # Petro refused, Maria never answered
    assert page.locator("#segment-sample tbody tr").count() == 3
    page.fill("#id_name", "Buyers who said yes")
    screenshot(page, "marketing-segment")
    page.click("button:has-text('Save the segment')")
    page.wait_for_selector("text=Segment saved.")

    page.goto(f"{live_server.url}/marketing/campaigns/")
    page.fill("#id_name", "Spring comeback")
    page.select_option("#id_segment", label="Buyers who said yes")
    page.select_option("#id_template", label="Come back")
    page.fill("#id_holdout_percent", "34")
    page.click("button:has-text('Create the campaign')")
    page.wait_for_selector("#campaign-send")
    page.click("#campaign-send")
    page.wait_for_selector("text=The campaign is on its way.")
    messages_send_due()
    page.reload()

    held = CampaignRecipient.objects.filter(held_out=True).count()
    sent = len(smtp.recorder.received)
    assert sent + held == 3
    counts = {
        name: page.locator(f"#campaign-counts [data-count={name}]").inner_text()
        for name in ("audience", "held_out", "sent", "delivered", "failed")
    }
    assert counts == {
        "audience": "3",
        "held_out": str(held),
        "sent": str(sent),
        "delivered": str(sent),
        "failed": "0",
    }
    assert "Not enough data yet" in page.locator("#campaign-verdict").inner_text()
    screenshot(page, "marketing-campaign")

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    try:
        small = phone.new_page()
        _log_in(small, live_server.url)
        small.goto(f"{live_server.url}/marketing/segments/new/")
        _count(small, "5")
        small.click("#rule-add")
        small.wait_for_selector("#rule-1-field")
        htmx_settled(small)
        small.select_option("#rule-1-field", "country")
        small.wait_for_selector("#rule-1-value")
        htmx_settled(small)
        small.fill("#rule-1-value", "PL")  # typed, not yet left: the count follows the typing
        _count(small, "1")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(small, "marketing-segment-phone")
        small.goto(page.url)
        small.wait_for_selector("#campaign-counts")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(small, "marketing-campaign-phone")
    finally:
        phone.close()
