"""The SOP as a picture: its flow with the runs at each step, and a run's place in it, on a
laptop and on a phone (the picture scales to the screen; nothing scrolls sideways)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import customer, person, sop_live
from procedo.testing import browser_log_in
from tests.browser.conftest import SCREENSHOTS, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIN_BACK = Path(__file__).resolve().parents[2] / "procedo" / "sops" / "library" / "win_back.json"


def test_an_sop_shows_its_flow_and_a_run_its_place_in_it(
    browser: Any, live_server: Any, quiet: None
) -> None:
    owner = person(Role.OWNER)
    entry = json.loads(WIN_BACK.read_text(encoding="utf-8"))
    sop, _revision = sop_live(
        definition=entry["definition"],
        owner=owner,
        subject_type="customer",
        name="Win-back after 12 months without an order",
    )
    for n in range(3):
        someone = customer(email=f"client{n}@example.com", first_name=f"Client {n}")
        run_start_manual(
            sop_id=sop.pk,
            subject_type="customer",
            subject_id=someone.pk,
            actor=owner,
            idempotency_key=f"start-{n}",
        )
    executor.runs_advance()
    run = Run.objects.order_by("id").first()
    assert run is not None

    for name, viewport in (("desktop", (1280, 900)), ("phone", (390, 844))):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        browser_log_in(page, live_server, owner.username)
        page.goto(f"{live_server.url}/sops/{sop.pk}/")
        flow = page.locator("svg.flow-svg")
        assert flow.is_visible()
        assert page.locator("#flow-wait_14 text.flow-count").text_content() == "3 runs here"
        assert flow.bounding_box()["width"] <= viewport[0]
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        screenshot(page, f"sop-flow-{name}")
        page.locator("figure.flow").screenshot(
            path=str(SCREENSHOTS / f"sop-flow-{name}-picture.png")
        )

        page.goto(f"{live_server.url}/sops/runs/{run.pk}/")
        assert page.locator("#flow-wait_14.flow-here").is_visible()
        assert page.locator("#flow-offer.flow-done").count() == 1
        screenshot(page, f"run-flow-{name}")
        page.locator("figure.flow").screenshot(
            path=str(SCREENSHOTS / f"run-flow-{name}-picture.png")
        )

        # The review meeting's report, one click from the SOP's runs.
        page.goto(f"{live_server.url}/sops/{sop.pk}/")
        page.click("text=Review report for the review meeting")
        page.wait_for_selector("h1:has-text('Review report')")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        assert page.locator("#step-offer").is_visible()
        screenshot(page, f"sop-review-{name}")
        context.close()
