"""Feedback, proposals, My SOPs and recognition in the browser's pages and through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.services import steps as executor
from procedo.automation.services.engine import run_start_manual
from procedo.automation.tests.helpers import event_trigger, order, person, sop_live, task_step
from procedo.sops.models import (
    Acknowledgement,
    FeedbackState,
    Proposal,
    ProposalState,
    Revision,
    RevisionState,
    Sop,
    StepFeedback,
)
from procedo.sops.services import feedback as feedback_services
from procedo.sops.services import revisions as revision_services
from procedo.testing import logged_in
from procedo.work.models import Task

pytestmark = pytest.mark.django_db

DEFINITION = {
    "triggers": [event_trigger(), {"kind": "manual", "key": "hand"}],
    "steps": [
        task_step("confirm", title="Call the customer", instructions="Ask about the address"),
        task_step("pack", title="Pack the order"),
    ],
}


@pytest.fixture
def live(quiet: None) -> tuple[Sop, Revision, User]:
    owner, reviewer = person(Role.OWNER), person(Role.MANAGER)
    sop, revision = sop_live(
        definition=DEFINITION, owner=owner, reviewer=reviewer, name="Confirm new orders"
    )
    return sop, revision, owner


def test_an_operator_leaves_feedback_from_a_task_with_a_plain_post_and_with_htmx(
    live: tuple[Sop, Revision, User],
) -> None:
    sop, revision, owner = live
    run_start_manual(
        sop_id=sop.pk, subject_type="order", subject_id=order().pk, actor=owner, idempotency_key="k"
    )
    executor.runs_advance()
    task = Task.objects.get()
    operator = person(Role.OPERATOR)
    client = logged_in(operator)
    url = reverse("sops:feedback", args=[sop.pk, "confirm"]) + f"?task={task.pk}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Call the customer" in html and "Ask about the address" in html
    assert "There is a faster way" in html and "Propose a change" in html

    token = "1c2a8f2e-6d0b-4e41-9a55-0c6f1e7c1b11"
    sent = client.post(
        url, {"what": "feedback", "form_token": token, "kind": "trap", "text": "No phone"}
    )
    assert sent.status_code == 302 and sent["Location"] == url
    client.post(url, {"what": "feedback", "form_token": token, "kind": "trap", "text": "No phone"})
    feedback = StepFeedback.objects.get()  # the same token twice is one
    assert (feedback.task_id, feedback.revision_id, feedback.author_id, feedback.kind) == (
        task.pk,
        revision.pk,
        operator.pk,
        "trap",
    )
    swapped = client.post(
        url,
        {
            "what": "proposal",
            "form_token": "2c2a8f2e-6d0b-4e41-9a55-0c6f1e7c1b11",
            "text": "SMS first",
        },
        HTTP_HX_REQUEST="true",
    )
    assert swapped.status_code == 200
    part = swapped.content.decode()
    assert part.lstrip().startswith('<div id="step-feedback">') and "<html" not in part
    assert "Thank you" in part and "No phone" in part
    assert Proposal.objects.get().step_key == "confirm"

    # A faster way without words: the form says so, nothing is saved.
    empty = client.post(
        url,
        {
            "what": "feedback",
            "form_token": "3c2a8f2e-6d0b-4e41-9a55-0c6f1e7c1b11",
            "kind": "faster_way",
        },
    )
    assert empty.status_code == 422 and "Say what happened" in empty.content.decode()
    assert StepFeedback.objects.count() == 1
    # A step the revision does not have, and a role that may not give feedback.
    missing = client.get(reverse("sops:feedback", args=[sop.pk, "ship"]))
    assert missing.status_code == 404 and "ship" in missing.content.decode()
    viewer = logged_in(person(Role.VIEWER)).get(url)
    assert viewer.status_code == 403


def test_the_owner_triages_feedback_and_proposals_on_the_sop_page(
    live: tuple[Sop, Revision, User],
) -> None:
    sop, _revision, owner = live
    operator = person(Role.OPERATOR, first_name="Olena", last_name="Operator")
    slow = feedback_services.feedback_leave(
        sop_id=sop.pk, step_key="pack", kind="slow", text="Boxes are far", actor=operator
    )
    feedback_services.feedback_leave(
        sop_id=sop.pk, step_key="pack", kind="slow", text="", actor=operator
    )
    keep = feedback_services.proposal_make(
        sop_id=sop.pk, step_key="pack", text="Keep boxes by the desk", actor=operator
    )
    drop = feedback_services.proposal_make(sop_id=sop.pk, text="Stop calling", actor=operator)
    client = logged_in(owner)
    page = client.get(reverse("sops:detail", args=[sop.pk]))
    html = page.content.decode()
    assert page.context["feedback"].open_feedback == 2
    pack = next(b for b in page.context["feedback"].steps if b.key == "pack")
    assert pack.counts == [("This step is slow", 2)] and [p.pk for p in pack.proposals] == [keep.pk]
    assert "Boxes are far" in html and "Keep boxes by the desk" in html and "Stop calling" in html
    assert "Accept: make a draft" in html
    # Who has read it: the operators run it (role operator), nobody has confirmed yet.
    acks = page.context["acks"]
    assert [row.user.pk for row in acks.pending] == [operator.pk] and acks.confirmed == []
    assert "Olena Operator" in html and "never read it" in html

    resolved = client.post(
        reverse("sops:feedback-resolve", args=[slow.pk]), {"state": "addressed", "note": "Moved"}
    )
    assert resolved.status_code == 302
    assert StepFeedback.objects.get(pk=slow.pk).state == FeedbackState.ADDRESSED
    declined = client.post(
        reverse("sops:proposal-decline", args=[drop.pk]), {"reason": "Calls keep returns low"}
    )
    assert declined.status_code == 302
    accepted = client.post(reverse("sops:proposal-accept", args=[keep.pk]))
    draft = Revision.objects.get(sop=sop, state=RevisionState.DRAFT)
    assert accepted["Location"] == reverse("sops:revision", args=[draft.pk])
    assert Proposal.objects.get(pk=keep.pk).draft_id == draft.pk
    # Accepting the declined one: refused, with the reason on the page.
    again = client.post(reverse("sops:proposal-accept", args=[drop.pk]), follow=True)
    assert "This proposal was declined." in again.content.decode()
    assert Proposal.objects.get(pk=drop.pk).state == ProposalState.DECLINED
    # An operator may not triage.
    other = feedback_services.feedback_leave(
        sop_id=sop.pk, step_key="confirm", kind="unclear", text="Which phone?", actor=operator
    )
    logged_in(operator).post(
        reverse("sops:feedback-resolve", args=[other.pk]), {"state": "dismissed"}
    )
    assert StepFeedback.objects.get(pk=other.pk).state == FeedbackState.OPEN
    # The revision page credits the proposal's author.
    assert (
        "Olena Operator" in client.get(reverse("sops:revision", args=[draft.pk])).content.decode()
    )


def test_my_sops_lists_what_my_role_runs_and_i_confirm_it(
    live: tuple[Sop, Revision, User],
) -> None:
    sop, revision, _owner = live
    operator = person(Role.OPERATOR)
    client = logged_in(operator)
    page = client.get(reverse("sops:mine"))
    assert page.status_code == 200
    assert [item.sop.pk for item in page.context["items"]] == [sop.pk]
    html = page.content.decode()
    assert "Confirm new orders" in html and "To read" in html and "I have read revision" in html
    confirmed = client.post(
        reverse("sops:acknowledge", args=[revision.pk]), {"next": reverse("sops:mine")}
    )
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("sops:mine")
    assert Acknowledgement.objects.filter(user=operator, revision=revision).exists()
    after = client.get(reverse("sops:mine")).content.decode()
    assert "I have read revision" not in after and "Confirmed" in after
    # Someone else's site is not a place to go back to.
    away = client.post(
        reverse("sops:acknowledge", args=[revision.pk]), {"next": "https://evil.example/"}
    )
    assert away["Location"] == reverse("sops:mine")
    # Everyone sees My SOPs and Recognition in the navigation.
    assert "My SOPs" in after and "Recognition" in after


def test_the_recognition_page_has_a_period_selector(live: tuple[Sop, Revision, User]) -> None:
    client = logged_in(person(Role.VIEWER))
    page = client.get(reverse("sops:recognition") + "?period=last_month")
    assert page.status_code == 200 and page.context["board"].period == "last_month"
    assert "This quarter" in page.content.decode()
    assert client.get(reverse("sops:recognition") + "?period=ever").context["board"].period == (
        "month"
    )


def test_the_api_names_the_bad_field_and_refuses_what_cannot_be(
    live: tuple[Sop, Revision, User],
) -> None:
    sop, revision, owner = live
    operator = logged_in(person(Role.OPERATOR))
    bad = operator.post(
        f"/api/sops/{sop.pk}/feedback",
        {"step_key": "ship", "kind": "slow"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["field"] == "step_key"
    made = operator.post(
        f"/api/sops/{sop.pk}/feedback",
        {"step_key": "pack", "kind": "faster_way", "text": "Use the label printer"},
        content_type="application/json",
        headers={"Idempotency-Key": "f1"},
    )
    assert made.status_code == 201 and made.json()["revision_id"] == revision.pk
    listed = operator.get(f"/api/sops/{sop.pk}/feedback?step_key=pack").json()
    assert [item["id"] for item in listed] == [made.json()["id"]]
    owner_api = logged_in(owner)
    resolved = owner_api.post(
        f"/api/sops/feedback/{made.json()['id']}/resolve",
        {"state": "dismissed"},
        content_type="application/json",
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "dismissed"

    proposal = operator.post(
        f"/api/sops/{sop.pk}/proposals", {"text": "Print labels"}, content_type="application/json"
    ).json()
    declined = owner_api.post(
        f"/api/sops/proposals/{proposal['id']}/decline",
        {"reason": "No printer"},
        content_type="application/json",
    )
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    conflict = owner_api.post(
        f"/api/sops/proposals/{proposal['id']}/accept", {}, content_type="application/json"
    )
    assert conflict.status_code == 409 and conflict.json()["field"] == "state"

    draft = revision_services.revision_draft_create(sop_id=sop.pk, actor=owner)
    refused = operator.post(f"/api/sops/revisions/{draft.pk}/acknowledge")
    assert refused.status_code == 422 and refused.json()["field"] == "revision_id"
    for _twice in range(2):
        ok = operator.post(f"/api/sops/revisions/{revision.pk}/acknowledge")
        assert ok.status_code == 200 and ok.json()["revision_id"] == revision.pk
    mine = operator.get("/api/sops/mine").json()
    assert [(item["sop_id"], item["confirmed"]) for item in mine] == [(sop.pk, True)]
    board = owner_api.get(f"/api/sops/{sop.pk}/acknowledgements").json()
    assert len(board["confirmed"]) == 1 and board["revision"] == revision.number
    recognition = operator.get("/api/sops/recognition?period=week")
    assert recognition.status_code == 200 and recognition.json()["period"] == "week"
    assert operator.get("/api/sops/recognition?period=ever").status_code == 422
