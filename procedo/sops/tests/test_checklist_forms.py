"""Writing checklist steps in the browser: five kinds, stable keys, errors on the right field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.services.steps import checklist_route
from procedo.automation.tests.helpers import event_trigger, person, task_step
from procedo.core.errors import DomainError
from procedo.sops.definitions import definition_parse
from procedo.sops.forms.checklist import ChecklistForm
from procedo.sops.forms.common import error_field
from procedo.sops.forms.steps import StepChoices
from procedo.sops.models import Revision
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services
from procedo.testing import browser_log_in, logged_in

pytestmark = pytest.mark.django_db

WHO = {"assignee_kind": "role", "role": "operator", "due_in_minutes": "30", "priority": "normal"}


def _draft(owner: User, steps: list[dict[str, Any]], triggers: Any = None) -> Revision:
    sop = sop_services.sop_create(
        name="Handle objections on a sales call",
        subject_type="order",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        kpi_target=Decimal("15"),
        holdout_percent=0,
        goal="Close more calls",
        why="Most objections have a good answer",
        actor=owner,
        idempotency_key=f"test:{owner.pk}",
    )
    draft = sop.revisions.get()
    return revision_services.revision_update(
        revision_id=draft.pk,
        definition={"triggers": triggers or [event_trigger()], "steps": steps},
        actor=owner,
    )


def _email(key: str, title: str) -> dict[str, Any]:
    return {"kind": "email", "key": key, "title": title, "subject": "Hi", "body": "Hello"}


def _targets(owner: User) -> Revision:
    return _draft(
        owner,
        [
            task_step("call", title="Call the customer"),
            _email("discount", "Send the 5% offer"),
            _email("size_help", "Send the size guide"),
        ],
    )


def _as_posted(form: Any) -> dict[str, Any]:
    """What a browser posts back from a rendered form, untouched."""
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def _step(revision: Revision, index: int) -> dict[str, Any]:
    revision.refresh_from_db()
    step: dict[str, Any] = revision.definition["steps"][index]
    return step


def test_a_decision_authored_in_the_form_routes_each_answer_to_its_step() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    client = logged_in(owner)
    page = client.get(reverse("sops:item-new", args=[draft.pk, "steps"]) + "?kind=checklist")
    assert page.status_code == 200
    assert "Then go to" in page.content.decode() and "Kind of checklist" in page.content.decode()
    saved = client.post(
        reverse("sops:item-new", args=[draft.pk, "steps"]),
        {
            "kind": "checklist",
            "title": "Ask what holds the customer back",
            **WHO,
            "escalate_after_minutes": "60",
            "checklist_kind": "decision",
            "item_0_text": "What holds the customer back?",
            "item_0_help": "Listen first; do not argue.",
            "item_0_required": "on",
            "item_0_option_0_label": "The price",
            "item_0_option_0_goto": "discount",
            "item_0_option_1_label": "Not sure it fits",
            "item_0_option_1_goto": "size_help",
            "item_0_option_3_label": "Nothing, ready to buy",
            # Filled in a column a decision does not show: ignored.
            "item_0_choices": "a, b",
        },
    )
    assert saved.status_code == 302, saved.context["form"].errors
    step = _step(draft, 3)
    assert step["kind"] == "checklist" and step["checklist_kind"] == "decision"
    assert step["escalate_after_minutes"] == 60
    [item] = step["items"]
    assert (item["key"], item["help"], item["required"], item["choices"]) == (
        "item_1",
        "Listen first; do not argue.",
        True,
        [],
    )
    assert item["options"] == [
        {"value": "answer_1", "label": "The price", "goto": "discount"},
        {"value": "answer_2", "label": "Not sure it fits", "goto": "size_help"},
        {"value": "answer_3", "label": "Nothing, ready to buy", "goto": ""},
    ]
    spec = definition_parse(draft.definition).steps[3]
    assert checklist_route(spec, {"item_1": "answer_1"}) == ("answer_1", "discount")
    assert checklist_route(spec, {"item_1": "answer_2"}) == ("answer_2", "size_help")
    assert checklist_route(spec, {"item_1": "answer_3"}) == ("answer_3", None)


def test_editing_a_checklist_keeps_its_item_keys_and_option_values() -> None:
    owner = person(Role.OWNER)
    checklist = {
        **task_step("ask", title="Ask"),
        "kind": "checklist",
        "checklist_kind": "decision",
        "items": [
            {
                "key": "objection",
                "text": "Objection?",
                "options": [
                    {"value": "price", "label": "Price", "goto": "discount"},
                    {"value": "fit", "label": "Fit", "goto": "size_help"},
                ],
            },
            {
                "key": "budget",
                "text": "Budget known?",
                "options": [
                    {"value": "yes", "label": "Yes"},
                    {"value": "no", "label": "No", "goto": "end"},
                ],
            },
        ],
    }
    draft = _draft(
        owner,
        [checklist, _email("discount", "Offer"), _email("size_help", "Sizes")],
    )
    client = logged_in(owner)
    url = reverse("sops:item", args=[draft.pk, "steps", 0])
    page = client.get(url)
    assert page.status_code == 200
    data = _as_posted(page.context["form"])
    assert data["item_0_key"] == "objection" and data["item_1_option_1_value"] == "no"
    # The owner drops the first question, rewords an answer, adds an answer and a question.
    data.update(
        {
            "item_0_text": "",
            "item_1_option_0_label": "Yes, roughly",
            "item_1_option_2_label": "Will tell later",
            "item_2_text": "Who decides?",
            "item_2_option_0_label": "The customer",
            "item_2_option_1_label": "Someone else",
        }
    )
    assert client.post(url, data).status_code == 302
    items = _step(draft, 0)["items"]
    assert [item["key"] for item in items] == ["budget", "item_1"]
    assert [(o["value"], o["label"], o["goto"]) for o in items[0]["options"]] == [
        ("yes", "Yes, roughly", ""),
        ("no", "No", "end"),
        ("answer_1", "Will tell later", ""),
    ]
    assert [o["value"] for o in items[1]["options"]] == ["answer_1", "answer_2"]
    # Saving the same form again changes nothing: keys come back from the hidden fields.
    before = _step(draft, 0)
    again = _as_posted(client.get(url).context["form"])
    assert client.post(url, again).status_code == 302
    assert _step(draft, 0) == before


def test_a_goto_to_a_missing_step_is_refused_on_that_answer() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    client = logged_in(owner)
    before = Revision.objects.get(pk=draft.pk).definition
    refused = client.post(
        reverse("sops:item-new", args=[draft.pk, "steps"]),
        {
            "kind": "checklist",
            "title": "Ask",
            **WHO,
            "checklist_kind": "decision",
            "item_0_text": "Objection?",
            "item_0_option_0_label": "Price",
            "item_0_option_1_label": "Fit",
            "item_0_option_1_goto": "no_such_step",
        },
    )
    assert refused.status_code == 422
    assert list(refused.context["form"].errors) == ["item_0_option_1_goto"]
    assert Revision.objects.get(pk=draft.pk).definition == before


def test_the_definitions_refusal_of_a_goto_lands_on_the_row_the_owner_sees() -> None:
    """The service counts filled rows only; the form maps its path back to the page's rows."""
    owner = person(Role.OWNER)
    draft = _targets(owner)
    steps = [(s["key"], s["title"]) for s in draft.definition["steps"]]
    # A step deleted by someone else since the page was drawn is still offered here.
    form = ChecklistForm(
        {
            "title": "Ask",
            **WHO,
            "checklist_kind": "decision",
            "item_0_text": "Budget known?",
            "item_0_option_0_label": "Yes",
            "item_0_option_1_label": "No",
            "item_2_text": "Objection?",
            "item_2_option_1_label": "Price",
            "item_2_option_3_label": "Fit",
            "item_2_option_3_goto": "gone",
        },
        kind="checklist",
        choices=StepChoices(
            subject_type="order",
            step_keys=[*steps, ("gone", "Deleted meanwhile")],
            roles=[("operator", "Operator")],
        ),
    )
    assert form.is_valid(), form.errors
    with pytest.raises(DomainError) as caught:
        revision_services.revision_item_save(
            revision_id=draft.pk, section="steps", item=form.to_item(), index=None, actor=owner
        )
    assert caught.value.field == "steps.3.items.1.options.1.goto"
    assert error_field(form, caught.value.field) == "item_2_option_3_goto"
    assert error_field(form, "steps.3.items.1.text") == "item_2_text"
    assert error_field(form, "steps.3.items") == "item_0_text"


def test_a_decision_question_with_one_answer_is_refused_with_a_clear_message() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    refused = logged_in(owner).post(
        reverse("sops:item-new", args=[draft.pk, "steps"]),
        {
            "kind": "checklist",
            "title": "Ask",
            **WHO,
            "checklist_kind": "decision",
            "item_0_text": "Objection?",
            "item_0_option_0_label": "Price",
            "item_0_option_0_goto": "discount",
        },
    )
    assert refused.status_code == 422
    errors = refused.context["form"].errors
    assert errors == {
        "item_0_option_1_label": ["A question needs at least two answers to choose from."]
    }
    assert "at least two answers" in refused.content.decode()
    assert len(Revision.objects.get(pk=draft.pk).definition["steps"]) == 3


def test_an_information_checklist_stores_typed_fields_under_their_names() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    client = logged_in(owner)
    url = reverse("sops:item-new", args=[draft.pk, "steps"])
    fields = {
        "kind": "checklist",
        "title": "Record the complaint",
        **WHO,
        "checklist_kind": "information",
        "item_0_text": "Reason",
        "item_0_required": "on",
        "item_0_field_type": "choice",
        "item_0_choices": "late, damaged , wrong size,",
        "item_0_stored_as": "complaint_reason",
        "item_1_text": "Amount to refund",
        "item_1_field_type": "number",
        "item_1_choices": "ignored unless a choice",
        "item_2_text": "Promised by",
        "item_2_field_type": "date",
        "item_3_text": "Wants a call back",
        "item_3_field_type": "yes_no",
        "item_3_required": "on",
        "item_3_option_0_label": "not a decision: ignored",
    }
    assert client.post(url, fields).status_code == 302
    items = _step(draft, 3)["items"]
    assert [(i["key"], i["field_type"], i["choices"], i["required"]) for i in items] == [
        ("complaint_reason", "choice", ["late", "damaged", "wrong size"], True),
        ("item_1", "number", [], False),
        ("item_2", "date", [], False),
        ("item_3", "yes_no", [], True),
    ]
    assert all(item["options"] == [] for item in items)

    refused = client.post(
        url,
        {
            **fields,
            "item_0_choices": " , ",
            "item_1_stored_as": "Refund Amount",
            "item_2_stored_as": "complaint_reason",
        },
    )
    assert refused.status_code == 422
    errors = refused.context["form"].errors
    assert set(errors) == {"item_0_choices", "item_1_stored_as", "item_2_stored_as"}
    assert "separated by commas" in errors["item_0_choices"][0]
    assert "lower-case letters" in errors["item_1_stored_as"][0]
    assert "already stored as “complaint_reason”" in errors["item_2_stored_as"][0]


def test_a_verification_keeps_its_failure_route_and_other_kinds_drop_it() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    client = logged_in(owner)
    url = reverse("sops:item-new", args=[draft.pk, "steps"])
    base = {"kind": "checklist", "title": "Check the parcel", **WHO, "on_fail": "call"}
    criteria = {"item_0_text": "Sealed", "item_1_text": "Label matches", "item_1_help": "Compare"}
    assert (
        client.post(url, {**base, "checklist_kind": "verification", **criteria}).status_code == 302
    )
    assert client.post(url, {**base, "checklist_kind": "simple", **criteria}).status_code == 302
    revision = Revision.objects.get(pk=draft.pk)
    verification, simple = revision.definition["steps"][3:]
    assert verification["on_fail"] == "call" and verification["items"][1]["help"] == "Compare"
    assert simple["on_fail"] == "" and simple["items"][1]["help"] == ""

    empty = client.post(url, {**base, "checklist_kind": "simple"})
    assert empty.status_code == 422
    assert empty.context["form"].errors["item_0_text"] == ["A checklist needs at least one item."]
    orphan = client.post(url, {**base, "checklist_kind": "detailed", "item_4_help": "How?"})
    assert orphan.context["form"].errors["item_4_text"] == ["Write the item, or clear its row."]


def test_a_task_step_has_no_checklist_but_can_escalate() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    client = logged_in(owner)
    url = reverse("sops:item-new", args=[draft.pk, "steps"])
    page = client.get(url + "?kind=task").content.decode()
    assert "Escalate after" in page and "Kind of checklist" not in page
    posted = {"kind": "task", "title": "Call", **WHO, "escalate_after_minutes": "120"}
    assert client.post(url, {**posted, "item_0_text": "ignored"}).status_code == 302
    step = _step(draft, 3)
    assert step["kind"] == "task" and step["escalate_after_minutes"] == 120
    assert "items" not in step


def test_an_old_task_with_checklist_lines_opens_as_a_simple_checklist() -> None:
    owner = person(Role.OWNER)
    draft = _targets(owner)
    # A revision written before checklist steps existed, as stored then.
    old = {**task_step("legacy", title="Pack"), "checklist": ["Bubble wrap", "Invoice"]}
    Revision.objects.filter(pk=draft.pk).update(
        definition={**draft.definition, "steps": [*draft.definition["steps"], old]}
    )
    client = logged_in(owner)
    url = reverse("sops:item", args=[draft.pk, "steps", 3])
    page = client.get(url)
    assert page.context["kind"] == "checklist"
    data = _as_posted(page.context["form"])
    assert (data["item_0_text"], data["item_1_text"]) == ("Bubble wrap", "Invoice")
    assert client.post(url, data).status_code == 302
    step = _step(draft, 3)
    assert step["kind"] == "checklist" and step["checklist_kind"] == "simple"
    assert [(i["key"], i["text"]) for i in step["items"]] == [
        ("item_1", "Bubble wrap"),
        ("item_2", "Invoice"),
    ]


def test_the_condition_table_shows_the_rules_in_use_plus_three_and_keeps_them_all() -> None:
    owner = person(Role.OWNER)
    rules = [{"field": "total", "op": "gte", "value": str(n)} for n in range(6)]
    draft = _draft(owner, [task_step("call")], triggers=[event_trigger(rules=rules)])
    client = logged_in(owner)
    url = reverse("sops:item", args=[draft.pk, "triggers", 0])
    page = client.get(url)
    assert len(page.context["rule_rows"]) == 9
    new = client.get(reverse("sops:item-new", args=[draft.pk, "triggers"]) + "?kind=event")
    assert len(new.context["rule_rows"]) == 3
    data = _as_posted(page.context["form"])
    data.update({"rule_8_field": "total", "rule_8_op": "lte", "rule_8_value": "1000"})
    assert client.post(url, data).status_code == 302
    draft.refresh_from_db()
    saved = draft.definition["triggers"][0]["conditions"]["rules"]
    assert [rule["value"] for rule in saved] == ["0", "1", "2", "3", "4", "5", "1000"]
    assert len(client.get(url).context["rule_rows"]) == 10


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_step_form_shows_what_each_kind_of_checklist_needs(page: Any, live_server: Any) -> None:
    from tests.browser.conftest import screenshot

    owner = person(Role.OWNER, username="shop-owner")
    draft = _targets(owner)
    browser_log_in(page, live_server, "shop-owner")
    page.goto(
        f"{live_server.url}{reverse('sops:item-new', args=[draft.pk, 'steps'])}?kind=checklist"
    )
    page.fill("#id_title", "Ask what holds the customer back")
    page.select_option("#id_role", "operator")

    page.select_option("#id_checklist_kind", "decision")
    assert page.is_visible("#id_item_0_option_0_label")
    assert not page.is_visible("#id_item_0_stored_as") and not page.is_visible("#id_on_fail")
    assert not page.is_visible("#id_item_1_text")  # one empty row at a time
    page.fill("#id_item_0_text", "What holds the customer back?")
    page.fill("#id_item_0_help", "Listen first; repeat the objection in their words.")
    page.fill("#id_item_0_option_0_label", "The price")
    page.select_option("#id_item_0_option_0_goto", "discount")
    page.fill("#id_item_0_option_1_label", "Not sure it fits")
    page.select_option("#id_item_0_option_1_goto", "size_help")
    page.fill("#id_item_0_option_2_label", "Nothing, ready to buy")
    page.click("#add-item")
    assert page.is_visible("#id_item_1_text")
    screenshot(page, "sop-step-checklist-decision")

    page.select_option("#id_checklist_kind", "information")
    assert not page.is_visible("#id_item_0_option_0_label")
    assert page.is_visible("#id_item_0_stored_as") and not page.is_visible("#id_item_0_choices")
    page.fill("#id_item_0_text", "Reason for the complaint")
    page.select_option("#id_item_0_field_type", "choice")
    assert page.is_visible("#id_item_0_choices")
    page.fill("#id_item_0_choices", "late, damaged, wrong size")
    page.fill("#id_item_0_stored_as", "complaint_reason")
    page.fill("#id_item_1_text", "Amount to refund")
    page.select_option("#id_item_1_field_type", "number")
    screenshot(page, "sop-step-checklist-information")

    page.select_option("#id_checklist_kind", "verification")
    assert page.is_visible("#id_on_fail") and not page.is_visible("#id_item_0_field_type")
    page.select_option("#id_on_fail", "call")
    screenshot(page, "sop-step-checklist-verification")

    page.select_option("#id_checklist_kind", "decision")
    page.fill("#id_item_1_text", "")
    page.fill("#id_item_0_option_1_label", "")
    page.fill("#id_item_0_option_2_label", "")
    page.select_option("#id_item_0_option_1_goto", "")
    page.click("button[type=submit]:has-text('Save')")
    error = page.locator(".item-row .errorlist")
    assert "at least two answers" in error.inner_text()
    screenshot(page, "sop-step-checklist-decision-error")
    page.fill("#id_item_0_option_1_label", "Not sure it fits")
    page.select_option("#id_item_0_option_1_goto", "size_help")
    page.fill("#id_item_0_option_2_label", "Nothing, ready to buy")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_url(f"**{reverse('sops:revision', args=[draft.pk])}")
    step = _step(draft, 3)
    assert [o["goto"] for o in step["items"][0]["options"]] == ["discount", "size_help", ""]
