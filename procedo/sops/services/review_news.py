"""Who hears of a revision's review: the people who may approve it when it is submitted,
its author when it is approved or sent back. In the app and by email, each in their own
language (LaterText), once per move (the key is the move's own row)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_noop

from procedo.accounts.models import User
from procedo.accounts.roles import ROLE_PERMISSIONS
from procedo.collab.services import notify
from procedo.core.actors import actor_id_of
from procedo.core.texts import LaterText
from procedo.sops.models import Revision, RevisionState

S = RevisionState


def revision_news(
    revision: Revision, *, from_state: str, to_state: str, actor: Any, move_id: int, comment: str
) -> int:
    """Tell the people a move concerns; returns how many were told."""
    who = str(actor) if actor_id_of(actor) else LaterText(gettext_noop("Someone"))
    common: dict[str, Any] = {
        "url": reverse("sops:revision", args=[revision.pk]),
        "subject_type": "sop",
        "subject_id": revision.sop_id,
        "key": f"sop-revision-move:{move_id}",
    }
    params = {"who": who, "n": revision.number, "sop": revision.sop.name}
    if to_state == S.REVIEW:
        reviewers = User.objects.filter(
            is_active=True,
            role__in=[
                role for role, granted in ROLE_PERMISSIONS.items() if "sops.review" in granted
            ],
        ).exclude(pk__in=[revision.author_id, revision.edited_by_id, actor_id_of(actor)])
        return notify(
            recipient_ids=list(reviewers.values_list("pk", flat=True)),
            kind="review_requested",
            title=LaterText(
                gettext_noop("%(who)s asks you to review revision %(n)s of “%(sop)s”"), params
            ),
            **common,
        )
    authors = {revision.author_id, revision.edited_by_id} - {None, actor_id_of(actor)}
    if from_state == S.REVIEW and to_state == S.APPROVED:
        title = LaterText(gettext_noop("%(who)s approved revision %(n)s of “%(sop)s”"), params)
    elif from_state == S.REVIEW and to_state == S.DRAFT:
        title = LaterText(
            gettext_noop("%(who)s sent revision %(n)s of “%(sop)s” back: %(comment)s"),
            {**params, "comment": comment},
        )
    else:
        return 0
    return notify(
        recipient_ids=[pk for pk in authors if pk is not None],
        kind="review_decided",
        title=title,
        **common,
    )
