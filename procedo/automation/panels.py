"""What automation adds to other areas' pages: a subject's runs and the start-by-hand form."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.analytics.impact import BINARY, outcome_of
from procedo.analytics.models import Goal
from procedo.automation import impact, selectors
from procedo.automation.forms import RunStartForm
from procedo.automation.models import Run
from procedo.automation.services import pacing
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.knowledge.models import Kind
from procedo.knowledge.selectors import script_use
from procedo.sops import subjects
from procedo.sops.knowledge_links import article_links
from procedo.sops.models import Sop
from procedo.work.models import Task


def subject_runs_context(
    *, subject_type: str, subject_id: int, next_url: str, runs: list[Run] | None = None
) -> dict[str, Any]:
    """What `automation/_subject_runs.html` shows on a subject's card: its runs, and a form
    to start an SOP by hand (render it with the request, for the CSRF token)."""
    sops = selectors.manual_sops_choices(subject_type)
    start_form = (
        RunStartForm(sops=sops, initial={"subject_type": subject_type, "subject_id": subject_id})
        if sops
        else None
    )
    return {
        "runs": runs
        if runs is not None
        else selectors.runs_of_subject(subject_type=subject_type, subject_id=subject_id),
        "start_form": start_form,
        "next_url": next_url,
    }


def customer_runs(customer_id: int) -> dict[str, Any]:
    """The customer card's section: the SOP runs on the customer and on their orders, and
    an SOP to start on the customer by hand."""
    return subject_runs_context(
        subject_type="customer",
        subject_id=customer_id,
        next_url=reverse("customers:card", args=[customer_id]),
        runs=selectors.runs_of_customer(customer_id=customer_id),
    )


def sop_runs(request: HttpRequest, sop: Sop) -> dict[str, Any]:
    """The SOP page's runs: counts by state, and a page of runs in the state asked for."""
    state = request.GET.get("state", "")
    try:
        runs = selectors.runs_of_sop(
            sop_id=sop.pk, state=state, cursor=request.GET.get("cursor") or None
        )
    except DomainError:  # a cursor from another filter or a crafted one: the first page
        runs = selectors.runs_of_sop(sop_id=sop.pk, state=state)
    return {
        "sop_id": sop.pk,
        "runs": runs,
        "state": state,
        "by_state": selectors.RUN_FACTS.count_by_state(sop.pk),
    }


def sop_queue(request: HttpRequest, sop: Sop) -> dict[str, Any] | None:
    """The SOP page's queue: who waits for the pace, in order, and when it will be drained."""
    state = pacing.queue_state(pacing.live_sop(sop.pk), sop_id=sop.pk, now=timezone.now())
    if not state.waiting and sop.pace_limit is None:
        return None
    model = subjects.SUBJECTS[sop.subject_type].model
    labels = {
        item.pk: str(item)
        for item in model._default_manager.filter(pk__in=[row.subject_id for row in state.first])
    }
    rows = [
        (
            row,
            labels.get(row.subject_id, f"#{row.subject_id}"),
            subjects.subject_url(sop.subject_type, row.subject_id),
        )
        for row in state.first
    ]
    return {"queue": state, "rows": rows}


def sop_impact(request: HttpRequest, sop: Sop) -> dict[str, Any] | None:
    """The SOP page's "Effect on the KPI": nothing for an SOP whose KPI is not measured
    subject by subject (the analytics page shows it for the whole store)."""
    if outcome_of(sop.kpi, sop.subject_type) is None:
        return None
    return {
        "impact": impact.sop_impact(sop=sop),
        "binary": BINARY,
        "currency": business_get().currency,
    }


# The latest tasks of an SOP that "were the scripts used" looks at.
SCRIPT_TASKS = 500


def sop_scripts(request: HttpRequest, sop: Sop) -> dict[str, Any] | None:
    """Were the scripts used: of the SOP's latest tasks, how many had a knowledge base
    article opened from them; nothing for an SOP that links to no article."""
    revision = sop.revisions.order_by("-id").first()
    if revision is None or not article_links(revision.definition or {}):
        return None
    task_ids = list(
        Task.objects.filter(run_id__in=Run.objects.filter(sop_id=sop.pk).values("id"))
        .order_by("-id")
        .values_list("id", flat=True)[:SCRIPT_TASKS]
    )
    return {"use": script_use(task_ids=task_ids, kinds=Kind.values)}


def goal_sops(goal: Goal) -> dict[str, Any]:
    """The goal page's SOPs: each serving SOP with what it measurably contributed."""
    rows = []
    for sop in Sop.objects.filter(serves=goal).order_by("name"):
        if outcome_of(sop.kpi, sop.subject_type) is None:
            verdict = _("Its KPI is not measured subject by subject.")
        else:
            found = impact.sop_impact(sop=sop)
            verdict = found.holdout_verdict or found.pilot_verdict
        rows.append({"sop": sop, "verdict": verdict})
    return {"rows": rows, "goal": goal}
