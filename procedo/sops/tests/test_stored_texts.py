"""What the system writes into an SOP's history (a revision replaced, a proposal taken in) is
read in each reader's language; rows written before as plain text still read as written."""

from __future__ import annotations

import pytest
from django.utils import translation

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import event_trigger, sop_live, task_step
from procedo.sops.models import RevisionTransition
from procedo.sops.services import feedback as feedback_services
from procedo.testing import person

pytestmark = pytest.mark.django_db
DEFINITION = {"triggers": [event_trigger()], "steps": [task_step()]}


def test_a_replaced_revision_and_a_proposal_read_in_the_readers_language(quiet: None) -> None:
    owner = person(Role.OWNER)
    sop, first = sop_live(definition=DEFINITION, owner=owner)
    sop_live(definition=DEFINITION, owner=owner, sop=sop)
    replaced = RevisionTransition.objects.get(revision=first, to_state="retired")
    assert replaced.comment == "Replaced by revision 2."  # as written, for exports and old readers
    with translation.override("uk"):
        assert replaced.comment_display == "Замінено редакцією 2."

    operator = person(Role.OPERATOR, first_name="Іван", last_name="Пакувальник")
    first_proposal = feedback_services.proposal_make(
        sop_id=sop.pk, text="Pack fragile items first", actor=operator
    )
    draft = feedback_services.proposal_accept(proposal_id=first_proposal.pk, actor=owner)
    second = feedback_services.proposal_make(sop_id=sop.pk, text="Add a gift note", actor=operator)
    draft = feedback_services.proposal_accept(proposal_id=second.pk, actor=owner, into_draft=True)
    draft.refresh_from_db()
    assert draft.note == (
        "Proposal by Іван Пакувальник: Pack fragile items first; "
        "Proposal by Іван Пакувальник: Add a gift note"
    )
    with translation.override("uk"):
        assert draft.note_display == (
            "Пропозиція від Іван Пакувальник: Pack fragile items first; "
            "Пропозиція від Іван Пакувальник: Add a gift note"
        )


def test_a_note_written_before_or_by_a_person_reads_as_written(quiet: None) -> None:
    owner = person(Role.OWNER)
    _sop, first = sop_live(definition=DEFINITION, owner=owner)
    move = RevisionTransition.objects.filter(revision=first).last()
    assert move is not None
    RevisionTransition.objects.filter(pk=move.pk).update(comment="Replaced by revision 9.")
    move.refresh_from_db()
    with translation.override("uk"):
        assert move.comment_display == "Replaced by revision 9."
