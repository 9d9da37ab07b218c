"""The SOP itself: made with an empty first draft; its name, owner, goal, KPI and holdout."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.analytics.kpis import KPIS
from procedo.analytics.models import Goal
from procedo.core.bounds import MAX_AMOUNT, number_check
from procedo.core.errors import DomainError
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record
from procedo.sops.models import PacePeriod, Revision, Sop, SubjectType
from procedo.sops.selectors import sops as sop_selectors

NAME_MAX = 200


def _clean_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The SOP's own fields, checked; only those given."""
    clean: dict[str, Any] = {}
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise DomainError(field="name", message=_("An SOP needs a name."))
        if len(name) > NAME_MAX:
            raise DomainError(field="name", message=_("At most 200 characters."))
        clean["name"] = name
    for text in ("goal", "why"):
        if text in values:
            clean[text] = str(values[text] or "").strip()
    if "kpi" in values:
        if values["kpi"] not in KPIS:
            raise DomainError(
                field="kpi",
                message=_("Choose a KPI from the catalog: %(codes)s") % {"codes": ", ".join(KPIS)},
            )
        clean["kpi"] = values["kpi"]
    if "kpi_target" in values:
        raw = values["kpi_target"]
        try:
            clean["kpi_target"] = None if raw in (None, "") else Decimal(str(raw))
            number_check(clean["kpi_target"], field="kpi_target", low=-MAX_AMOUNT, high=MAX_AMOUNT)
        except InvalidOperation:
            raise DomainError(field="kpi_target", message=_("The target is a number.")) from None
    if "kpi_window_days" in values:
        window = values["kpi_window_days"]
        if window is not None and not 1 <= int(window) <= 3650:
            raise DomainError(field="kpi_window_days", message=_("Between 1 and 3650 days."))
        clean["kpi_window_days"] = window
    if "holdout_percent" in values:
        holdout = int(values["holdout_percent"] or 0)
        if not 0 <= holdout <= 50:
            raise DomainError(field="holdout_percent", message=_("Between 0 and 50 percent."))
        clean["holdout_percent"] = holdout
    if "serves_id" in values:
        goal_id = values["serves_id"] or None
        if goal_id is not None and not Goal.objects.filter(pk=goal_id).exists():
            raise DomainError(field="serves_id", message=_("There is no such goal."))
        clean["serves_id"] = goal_id
    if "owner_id" in values:
        from procedo.accounts.models import User

        if not User.objects.filter(pk=values["owner_id"], is_active=True).exists():
            raise DomainError(field="owner_id", message=_("No such active person."))
        clean["owner_id"] = values["owner_id"]
    return clean


def _kpi_window_check(kpi: str, window: int | None) -> None:
    if KPIS[kpi].needs_window and not window:
        raise DomainError(
            field="kpi_window_days",
            message=_("%(kpi)s needs its window in days.") % {"kpi": KPIS[kpi].label},
        )


@idempotent("sop.create", replay=lambda pk: Sop.objects.get(pk=pk))
@transaction.atomic
def sop_create(
    *,
    name: str,
    subject_type: str,
    owner_id: int,
    kpi: str,
    actor: Actor,
    goal: str = "",
    why: str = "",
    kpi_target: Decimal | str | None = None,
    kpi_window_days: int | None = None,
    holdout_percent: int = 0,
    serves_id: int | None = None,
    idempotency_key: str | None = None,
) -> Sop:
    """A new SOP with an empty first draft (revision 1) to write its triggers and steps in."""
    if subject_type not in SubjectType.values:
        raise DomainError(
            field="subject_type", message=_("Runs on an order, a customer or the business.")
        )
    fields = _clean_fields(
        {
            "name": name,
            "goal": goal,
            "why": why,
            "kpi": kpi,
            "kpi_target": kpi_target,
            "kpi_window_days": kpi_window_days,
            "holdout_percent": holdout_percent,
            "serves_id": serves_id,
            "owner_id": owner_id,
        }
    )
    _kpi_window_check(fields["kpi"], fields["kpi_window_days"])
    now = timezone.now()
    sop = Sop.objects.create(subject_type=subject_type, created_at=now, updated_at=now, **fields)
    Revision.objects.create(
        sop=sop,
        number=1,
        definition={"triggers": [], "cancel_on": [], "steps": []},
        author=actor_person(actor),
        created_at=now,
        updated_at=now,
    )
    event_record(
        event_type="sop.created",
        subject=sop,
        actor=actor,
        payload={"name": sop.name, "subject_type": subject_type, "kpi": sop.kpi},
        idempotency_key=idempotency_key,
    )
    return sop


@transaction.atomic
def sop_update(*, sop_id: int, actor: Actor, **changes: Any) -> Sop:
    """Change the SOP's name, owner, goal, why, KPI and target, or holdout (not its subject)."""
    sop = sop_selectors.sop_get(sop_id=sop_id)
    unknown = set(changes) - {
        "name",
        "goal",
        "why",
        "kpi",
        "kpi_target",
        "kpi_window_days",
        "holdout_percent",
        "serves_id",
        "owner_id",
    }
    if unknown:
        raise DomainError(field=sorted(unknown)[0], message=_("This cannot be changed."))
    fields = _clean_fields(changes)
    _kpi_window_check(
        fields.get("kpi", sop.kpi), fields.get("kpi_window_days", sop.kpi_window_days)
    )
    changed = {k: v for k, v in fields.items() if getattr(sop, k) != v}
    if not changed:
        return sop
    Sop.objects.filter(pk=sop.pk).update(updated_at=timezone.now(), **changed)
    event_record(
        event_type="sop.updated",
        subject=sop,
        actor=actor,
        payload={k: str(v) if isinstance(v, Decimal) else v for k, v in changed.items()},
    )
    sop.refresh_from_db()
    return sop


PACE_MAX = 100_000


@transaction.atomic
def sop_pace_set(
    *,
    sop_id: int,
    actor: Actor,
    limit: int | None,
    period: str = "hour",
    per_assignee: bool = False,
) -> Sop:
    """At most `limit` swept starts per hour or day (None: no limit); per assignee, the limit
    holds for each person the first task step may go to. Over it, subjects wait in a queue."""
    sop = sop_selectors.sop_get(sop_id=sop_id)
    if limit is not None and not 1 <= limit <= PACE_MAX:
        raise DomainError(
            field="pace_limit",
            message=_("A pace is at least 1 start (at most %(max)s); leave it empty for no limit.")
            % {"max": PACE_MAX},
        )
    if period not in PacePeriod.values:
        raise DomainError(field="pace_period", message=_("Per hour or per day."))
    changed = {"pace_limit": limit, "pace_period": period, "pace_per_assignee": per_assignee}
    if all(getattr(sop, name) == value for name, value in changed.items()):
        return sop
    Sop.objects.filter(pk=sop.pk).update(updated_at=timezone.now(), **changed)
    event_record(event_type="sop.pace_set", subject=sop, actor=actor, payload=changed)
    sop.refresh_from_db()
    return sop
