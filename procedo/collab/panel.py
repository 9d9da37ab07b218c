"""The context of a comments panel, shared by its template tag and the views that re-render it."""

from __future__ import annotations

from typing import Any

from procedo.accounts.permissions import user_can
from procedo.collab import selectors, services
from procedo.collab.forms import CommentForm


def panel_context(
    *, user: Any, subject_type: str, subject_id: int, form: CommentForm | None = None
) -> dict[str, Any]:
    can_read = services.comment_can_read(user=user, subject_type=subject_type)
    thread = (
        selectors.comments_of_subject(subject_type=subject_type, subject_id=subject_id)
        if can_read
        else selectors.Thread(comments=[], older=0)
    )
    return {
        "subject_type": subject_type,
        "subject_id": subject_id,
        "thread": thread,
        "can_read": can_read,
        "can_write": services.comment_can_write(user=user, subject_type=subject_type),
        "can_moderate": user_can(user, "accounts.manage"),
        "viewer_id": getattr(user, "pk", None),
        "form": form or CommentForm(),
    }
