"""Words for the engine's codes on pages: "Order 1042", "checklist", never "order", "set_status"."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from procedo.automation.models import RunState
from procedo.sops import subjects
from procedo.sops.describe import duration_text

register = template.Library()

STEP_KIND_WORDS = {
    "task": _("task"),
    "checklist": _("checklist"),
    "email": _("email"),
    "sms": _("SMS"),
    "set_status": _("status change"),
    "add_tag": _("tag"),
    "remove_tag": _("untag"),
    "webhook": _("webhook"),
    "wait": _("wait"),
    "branch": _("branch"),
    "start_sop": _("another SOP"),
}


@register.filter
def subject_noun(subject_type: str) -> str:
    """The kind of subject in the reader's language ("Order"); the code if it is not known."""
    subject = subjects.SUBJECTS.get(subject_type)
    return str(subject.label) if subject is not None else subject_type


@register.filter
def step_kind_word(kind: str) -> str:
    return str(STEP_KIND_WORDS.get(kind, kind))


@register.filter
def run_state_word(state: str) -> str:
    """A run's state in the reader's language ("Held out"); the code if it is not known."""
    return str(dict(RunState.choices).get(state, state))


@register.filter
def minutes_words(minutes: float | None) -> str:
    """A step's time as people say it ("2 hours 5 min"); "—" when nothing was timed."""
    if minutes is None:
        return "—"
    if minutes < 1:
        return str(_("under a minute"))
    return duration_text(round(minutes))


@register.filter
def percent_words(value: float | None) -> str:
    """A rate with one decimal in the reader's format ("12,5 %"); "—" when there is none."""
    if value is None:
        return "—"
    return f"{number_format(round(value, 1), 1)} %"
