"""An SOP's messages as a customer will read them: each email and SMS step rendered for a real
subject of the store, the one the trigger would reach, by the messaging app's composer (the
same the engine queues with), so nobody reading the SOP sees template code or step keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.customers.models import Customer
from procedo.messaging.models import Channel, MessageKind
from procedo.messaging.services.composing import Composed, message_compose
from procedo.sops import matching, subjects
from procedo.sops.definitions import definition_parse
from procedo.sops.models import Revision

SAMPLES = 5  # how many subjects the reader may switch between
MESSAGE_KINDS = (Channel.EMAIL, Channel.SMS)
# How the sandboxed renderer names a variable the subject lacks ("'order' is undefined").
_UNDEFINED = re.compile(r"'(\w+)' is undefined")


@dataclass(frozen=True)
class Sample:
    id: int
    label: str
    url: str


@dataclass(frozen=True)
class MessagePreview:
    key: str  # the step's key: for the test button's form, not shown
    title: str
    channel: str
    marketing: bool
    to: str
    subject: str
    body: str
    problem: str  # a sentence when the message cannot be written for the sample
    body_html: str = ""  # a stored template's HTML part, for the test email

    @property
    def channel_label(self) -> str:
        return str(Channel(self.channel).label)


@dataclass(frozen=True)
class MessagePreviews:
    revision: Revision
    subject_label: str
    steps: int  # message steps in the revision: 0, and the pages show nothing of this
    sample: Sample | None
    samples: list[Sample]
    messages: list[MessagePreview]


def _subject_condition(revision: Revision, subject: subjects.Subject) -> Q | None:
    """The subject rules of the first trigger: who the SOP would start for now."""
    definition = definition_parse(revision.definition)
    if not definition.triggers:
        return None
    return matching.conditions_q(subject, definition.triggers[0].conditions, now=timezone.now())


def _samples(revision: Revision, subject: subjects.Subject, chosen: int | None) -> list[Sample]:
    """The newest subjects the trigger would reach that have a customer to write to; the
    chosen one first when it is a subject of this kind (any subject may be asked for)."""
    rows = subject.queryset()
    if subject.customer_lookup == "customer_id":
        rows = rows.filter(customer_id__isnull=False).select_related("customer")
    condition = _subject_condition(revision, subject)
    matched = rows.filter(condition) if condition is not None else rows
    found = list(matched.order_by("-pk")[:SAMPLES])
    if chosen is not None and chosen not in {item.pk for item in found}:
        extra = rows.filter(pk=chosen).first()
        if extra is not None:
            found.insert(0, extra)
    elif chosen is not None:
        found.sort(key=lambda item: item.pk != chosen)
    return [
        Sample(
            id=item.pk, label=_label(subject, item), url=subjects.subject_url(subject.name, item.pk)
        )
        for item in found
    ]


def _label(subject: subjects.Subject, item: Any) -> str:
    """ "Олена Коваль", or "Order 10137 · Олена Коваль": whom the message is written for."""
    if subject.customer_lookup == "pk":
        return str(item)
    customer = getattr(item, "customer", None) if subject.customer_lookup == "customer_id" else None
    named = _("%(kind)s %(name)s") % {"kind": subject.label, "name": item}
    return f"{named} · {customer}" if customer is not None else named


def _customer_of(subject: subjects.Subject, subject_id: int) -> Customer | None:
    if subject.customer_lookup is None:
        return None
    if subject.customer_lookup == "pk":
        customer_id: Any = subject_id
    else:
        customer_id = (
            subject.model._default_manager.filter(pk=subject_id)
            .values_list(subject.customer_lookup, flat=True)
            .first()
        )
    if customer_id is None:
        return None
    return Customer.objects.filter(pk=customer_id).prefetch_related("identities").first()


def _problem_text(exc: DomainError, sample: str) -> str:
    missing = _UNDEFINED.search(exc.message)
    if missing:
        return _(
            "It cannot be written for %(sample)s: the text uses “%(name)s”, and there is none here."
        ) % {
            "sample": sample,
            "name": missing.group(1),
        }
    return _("It cannot be written for %(sample)s: %(detail)s") % {
        "sample": sample,
        "detail": exc.message,
    }


def _compose(
    step: Any, revision: Revision, subject_name: str, sample: Sample, customer: Customer | None
) -> MessagePreview:
    """One step for one sample, exactly as the engine's message step would queue it."""

    def preview(composed: Composed | None = None, *, to: str = "", problem: str = "") -> Any:
        return MessagePreview(
            key=step.key,
            title=step.title,
            channel=step.kind,
            marketing=(composed.kind if composed else step.purpose) == MessageKind.MARKETING,
            to=to,
            subject=composed.subject if composed else "",
            body=composed.body if composed else "",
            problem=problem,
            body_html=composed.body_html if composed else "",
        )

    if customer is None:
        return preview(
            problem=_("%(sample)s has no customer to write to.") % {"sample": sample.label}
        )
    recipients = customer.emails if step.kind == Channel.EMAIL else customer.phones
    if not recipients:
        problem = (
            _("%(sample)s has no email address: the step is skipped for them.")
            if step.kind == Channel.EMAIL
            else _("%(sample)s has no phone number: the step is skipped for them.")
        )
        if step.if_no_recipient == "fail":
            problem = _("%(sample)s has nowhere to receive it: the run would fail here.")
        return preview(problem=problem % {"sample": customer})
    try:
        composed = message_compose(
            channel=step.kind,
            customer_id=customer.pk,
            order_id=sample.id if subject_name == "order" else None,
            recipient=recipients[0],
            template_key=step.template_key,
            subject="" if step.template_key else step.subject,
            body="" if step.template_key else step.body,
            kind=step.purpose,
            # What the engine adds to every SOP message (automation's message step).
            context={"sop": {"name": revision.sop.name}},
        )
    except DomainError as exc:
        return preview(to=recipients[0], problem=_problem_text(exc, sample.label))
    return preview(composed, to=recipients[0])


def message_previews(*, revision: Revision, sample_id: int | None = None) -> MessagePreviews:
    """Each message step of `revision` written for a sample subject (`sample_id`, else the
    newest the trigger would reach); [] messages when the SOP sends none."""
    subject = subjects.SUBJECTS[revision.sop.subject_type]
    definition = definition_parse(revision.definition)
    steps = [step for step in definition.steps if step.kind in MESSAGE_KINDS]
    if not steps:
        return MessagePreviews(revision, str(subject.label), 0, None, [], [])
    # A subject without customers (the business) has no message steps: the check refuses them.
    samples = _samples(revision, subject, sample_id) if subject.customer_lookup else []
    if not samples:
        return MessagePreviews(revision, str(subject.label), len(steps), None, [], [])
    sample = samples[0]
    customer = _customer_of(subject, sample.id)
    messages = [_compose(step, revision, subject.name, sample, customer) for step in steps]
    return MessagePreviews(revision, str(subject.label), len(steps), sample, samples, messages)


def message_preview_of(
    *, revision: Revision, step_key: str, sample_id: int | None
) -> tuple[Sample, MessagePreview]:
    """One step's message for one sample (what "Send me a test" sends), and the sample; a
    refusal names the field."""
    previews = message_previews(revision=revision, sample_id=sample_id)
    if previews.sample is None:
        raise DomainError(
            field="sample_id", message=_("There is nobody to write this message for yet.")
        )
    if sample_id is not None and previews.sample.id != sample_id:
        raise DomainError(field="sample_id", message=_("No such sample for this SOP."))
    found = next((item for item in previews.messages if item.key == step_key), None)
    if found is None:
        raise DomainError(field="step_key", message=_("This SOP sends no such message."))
    if found.problem:
        raise DomainError(field="sample_id", message=found.problem)
    return previews.sample, found
