"""How the log tells what people and the worker did to webhooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext_lazy as _

from procedo.events.timeline import sentence_register, subject_register
from procedo.outbound.catalog import TEST_EVENT
from procedo.outbound.models import Subscription


def _names(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(Subscription.objects.filter(pk__in=ids).values_list("pk", "name"))


def timeline_register() -> None:
    subject_register("webhook", names=_names, url_name="outbound:detail")
    sentence_register("webhook.created", _("%(actor)s made the webhook %(subject)s"))
    sentence_register("webhook.updated", _("%(actor)s changed the webhook %(subject)s"))
    sentence_register("webhook.paused", _("%(actor)s paused the webhook %(subject)s"))
    sentence_register("webhook.resumed", _("%(actor)s resumed the webhook %(subject)s"))
    sentence_register(TEST_EVENT, _("%(actor)s sent a test event to the webhook %(subject)s"))
    sentence_register(
        "webhook.redelivery_asked",
        _("%(actor)s had a delivery of the webhook %(subject)s sent again"),
    )
    sentence_register(
        "webhook.delivery_failed",
        _("A delivery of the webhook %(subject)s failed for a whole day; the webhook is paused"),
    )
