"""Who read which published revision: asked when it is published, confirmed once each."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor, actor_person_required
from procedo.accounts.permissions import user_can
from procedo.core.errors import DomainError, PermissionDenied
from procedo.core.texts import LaterText
from procedo.events.services.recording import event_record
from procedo.sops.models import LIVE_STATES, Acknowledgement, Revision
from procedo.sops.selectors import audience as audience_selectors
from procedo.sops.selectors import sops as sop_selectors


@transaction.atomic
def acknowledgement_confirm(*, revision_id: int, actor: Actor) -> Acknowledgement:
    """The person read this revision. Twice is once: the first confirmation stands."""
    revision = sop_selectors.revision_get(revision_id=revision_id)
    if not user_can(actor, "sops.view"):
        raise PermissionDenied(
            field="permission",
            message=_("Your role does not allow this (%(permission)s).")
            % {"permission": "sops.view"},
        )
    if revision.state not in LIVE_STATES:
        raise DomainError(
            field="revision_id",
            message=_("Only a published or piloted revision is confirmed; this one is %(state)s.")
            % {"state": revision.get_state_display().lower()},
        )
    person = actor_person_required(actor)
    acknowledgement, created = Acknowledgement.objects.get_or_create(
        user_id=person.pk, revision_id=revision.pk
    )
    if created:
        event_record(
            event_type="sop_revision.acknowledged",
            subject=revision,
            actor=actor,
            payload={"sop_id": revision.sop_id, "number": revision.number},
            idempotency_key=f"ack:{revision.pk}:{person.pk}",
        )
    return acknowledgement


def acknowledgement_request(revision: Revision) -> None:
    """Ask the people who run a just-published revision to read and confirm it.

    The one place that request is made (revision_transition calls it in its
    transaction): a notification in the app and by email, keyed by revision,
    so nobody is asked twice.
    """
    from procedo.collab.services import notify

    recipients = list(
        audience_selectors.acknowledgement_pending(revision=revision).values_list("pk", flat=True)
    )
    if not recipients:
        return
    notify(
        recipient_ids=recipients,
        kind="acknowledgement_requested",
        title=LaterText(
            gettext_noop("Read and confirm: %(sop)s, revision %(n)s"),
            {"sop": revision.sop.name, "n": revision.number},
        ),
        url=reverse("sops:mine"),
        subject_type="sop",
        subject_id=revision.sop_id,
        key=f"sop-revision:{revision.pk}:acknowledge",
    )
