"""An SOP's flow as a picture, on its page with the runs at each step, and on a run's page
with where that run is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from procedo.accounts.roles import Role
from procedo.automation.models import Run
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import event_trigger, order, person, sop_live, task_step
from procedo.sops.diagram import flow_diagram
from procedo.testing import logged_in

LIBRARY = Path(__file__).resolve().parents[2] / "sops" / "library"


def test_the_win_back_flow_shows_its_branch_and_its_end() -> None:
    entry = json.loads((LIBRARY / "win_back.json").read_text(encoding="utf-8"))
    diagram = flow_diagram(
        entry["definition"], subject_type="customer", holdout_percent=10, here={"call": 3}
    )
    titles = [node.title for node in diagram.nodes]
    assert titles[0] == "365 days after customer's last order"
    assert titles[-1] == "End"
    assert "Came back with an order?" in titles
    assert diagram.nodes[0].detail == "if customer's orders is at least 1"
    assert diagram.notes == [
        "It also starts: Started by a person",
        "10% of subjects are held out and not treated, to measure the effect.",
    ]
    call = next(node for node in diagram.nodes if node.key == "call")
    assert call.count_text == "3 runs here"
    # The branch's two answers leave on the side, labelled; the usual way on is a short arrow.
    labels = sorted(edge.label for edge in diagram.edges if edge.label)
    assert labels == ["if it matches", "otherwise"]
    straight = [edge for edge in diagram.edges if not edge.label]
    assert len(straight) >= 4
    assert all(" V" in edge.path and " H" not in edge.path for edge in straight)
    assert diagram.summary.endswith("3 runs in it now")


@pytest.mark.django_db
def test_the_sop_page_counts_runs_at_each_step_and_a_run_page_shows_where_it_is(
    quiet: None,
) -> None:
    owner = person(Role.OWNER)
    sop, _revision = sop_live(
        definition={
            "triggers": [event_trigger(), {"kind": "manual", "key": "hand"}],
            "steps": [
                task_step("confirm", title="Call the customer"),
                task_step("pack", title="Pack the order"),
            ],
        },
        owner=owner,
    )
    for key in ("a", "b"):
        run_start_manual(
            sop_id=sop.pk,
            subject_type="order",
            subject_id=order().pk,
            actor=owner,
            idempotency_key=key,
        )
    executor.runs_advance()

    page = logged_in(owner).get(f"/sops/{sop.pk}/").content.decode()
    assert 'class="flow-svg"' in page
    assert "Call the customer" in page and "Pack the order" in page
    assert "2 runs here" in page
    # The runs table names the step they are at by its title, not its key.
    runs_table = page[page.index("<h2>Runs</h2>") :]
    assert "Call the customer" in runs_table and ">confirm<" not in runs_table

    run = Run.objects.order_by("id").first()
    assert run is not None
    run_page = logged_in(owner).get(f"/sops/runs/{run.pk}/").content.decode()
    assert 'class="flow-node flow-task flow-here" id="flow-confirm"' in run_page
    assert "This run is here" in run_page
