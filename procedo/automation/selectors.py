"""Reading runs: an SOP's runs (keyset pages), one run with its steps, a subject's runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.analytics.formatting import kpi_target_text
from procedo.analytics.kpis import KPIS
from procedo.automation.models import ACTIVE_RUN_STATES, Run, RunState, RunStep, StepState
from procedo.business.selectors import business_get
from procedo.core.errors import NotFound
from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page
from procedo.events.timeline import Names
from procedo.messaging.registry import SopSources
from procedo.sops import live, subjects
from procedo.sops.diagram import Diagram, flow_diagram
from procedo.sops.models import Sop
from procedo.sops.registry import RunFacts, RunRef
from procedo.work.models import Task


def runs_of_sop(
    *, sop_id: int, state: str = "", cursor: str | None = None, limit: int = 25
) -> Page[Run]:
    runs = Run.objects.filter(sop_id=sop_id).select_related("revision")
    if state:
        runs = runs.filter(state=state)
    page = keyset_page(runs, order=["-id"], cursor=cursor, limit=limit)
    subject_names_attach(list(page.items))
    return page


def _run_subject(run: Run) -> str:
    return f"{run.subject_type} {run.subject_id}"


# An SOP's runs as a file (procedo/core/exports.py).
RUN_COLUMNS = (
    Column(gettext_lazy("Run"), lambda r: r.pk),
    Column(gettext_lazy("Revision"), lambda r: r.revision.number),
    Column(gettext_lazy("Subject"), _run_subject),
    Column(gettext_lazy("Started by"), lambda r: r.get_trigger_kind_display()),
    Column(gettext_lazy("Trigger"), lambda r: r.trigger_key),
    Column(gettext_lazy("State"), lambda r: r.get_state_display()),
    Column(gettext_lazy("Pilot"), lambda r: r.pilot),
    Column(gettext_lazy("Current step"), lambda r: r.current_step),
    Column(gettext_lazy("Started"), lambda r: r.created_at),
    Column(gettext_lazy("Ended"), lambda r: r.finished_at),
)


def run_export_rows(*, sop_id: int, state: str = "") -> Iterator[Run]:
    """Every run of the SOP in `state` (all: ""), newest first, read in batches."""
    runs = Run.objects.filter(sop_id=sop_id).select_related("revision")
    if state:
        runs = runs.filter(state=state)
    return keyset_all(runs, order=["-id"])


def runs_of_subject(*, subject_type: str, subject_id: int, limit: int = 20) -> list[Run]:
    return subject_names_attach(
        list(
            Run.objects.filter(subject_type=subject_type, subject_id=subject_id)
            .select_related("sop", "revision")
            .order_by("-id")[:limit]
        )
    )


def runs_of_customer(*, customer_id: int, limit: int = 20) -> list[Run]:
    """Every SOP run on a customer and on their orders, newest first."""
    from django.apps import apps

    orders = apps.get_model("orders", "Order").objects.filter(customer_id=customer_id)
    about = Q(subject_type="customer", subject_id=customer_id) | Q(
        subject_type="order", subject_id__in=orders.values("pk")
    )
    runs = Run.objects.filter(about).select_related("sop", "revision").order_by("-id")
    return subject_names_attach(list(runs[:limit]))


def subject_names_attach(runs: list[Run]) -> list[Run]:
    """Give each run `subject_name` (the order's number, the customer's name), never its id:
    one query per kind of subject; and `step_title`, its current step as its title says."""
    names = Names(runs)
    definitions = {
        revision_id: live.definition_of(revision_id)
        for revision_id in {run.revision_id for run in runs if run.current_step}
    }
    for run in runs:
        run.subject_name = names.name(run.subject_type, run.subject_id)  # type: ignore[attr-defined]
        run.step_title = (  # type: ignore[attr-defined]
            _title(definitions[run.revision_id], run.current_step) if run.current_step else ""
        )
    return runs


@dataclass(frozen=True)
class StepView:
    key: str
    title: str
    kind: str
    row: RunStep | None  # None: not reached (yet)
    outcome: str = ""  # the row's outcome in words: a decision's chosen answer, a check's verdict


@dataclass(frozen=True)
class RunCard:
    run: Run
    steps: list[StepView]
    subject_url: str
    tasks: dict[int, Any]
    diagram: Diagram | None = None


def run_card(*, run_id: int) -> RunCard:
    """The run and every step of its pinned revision, with the rows of the steps reached."""
    run = Run.objects.select_related("sop", "revision", "started_by").filter(pk=run_id).first()
    if run is None:
        raise NotFound(field="run_id", message=_("No run %(id)s.") % {"id": run_id})
    definition = live.definition_of(run.revision_id)
    rows = list(run.steps.order_by("id"))
    reached = {row.step_key for row in rows}
    views = [
        StepView(
            key=row.step_key,
            title=_title(definition, row.step_key),
            kind=row.kind,
            row=row,
            outcome=_outcome_text(definition, row.step_key, row.outcome),
        )
        for row in rows
    ]
    views += [
        StepView(key=step.key, title=step.title, kind=step.kind, row=None)
        for step in definition.steps
        if step.key not in reached
    ]
    tasks = {task.pk: task for task in Task.objects.filter(run_id=run.pk)}
    subject_names_attach([run])
    open_states = {StepState.PENDING, StepState.RUNNING, StepState.WAITING}
    return RunCard(
        run=run,
        steps=views,
        subject_url=subjects.subject_url(run.subject_type, run.subject_id),
        tasks=tasks,
        diagram=flow_diagram(
            run.revision.definition,
            subject_type=run.subject_type,
            done={row.step_key for row in rows if row.state in (StepState.DONE, StepState.SKIPPED)},
            current={row.step_key for row in rows if row.state in open_states},
            failed={row.step_key for row in rows if row.state == StepState.FAILED},
        ),
    )


def _outcome_text(definition: Any, key: str, outcome: str) -> str:
    """A decision's answer by its label and where it led; other outcomes as they are."""
    spec = definition.step(key)
    if spec is None or spec.kind != "checklist" or not outcome:
        return outcome

    def led_to(target: str) -> str:
        return f" → {_title(definition, target)}" if target and target != "end" else ""

    for item in spec.items:
        for option in item.options:
            if option.value == outcome:
                return f"{item.text} {option.label}{led_to(option.goto)}"
    if outcome == "failed":
        return _("a check failed") + led_to(spec.on_fail)
    if outcome == "passed":
        return _("every check passed")
    return outcome


def _title(definition: Any, key: str) -> str:
    step = definition.step(key)
    return str(step.title) if step else key


def manual_sops_choices(subject_type: str) -> list[tuple[int, str]]:
    """SOPs a person may start on this kind of subject: live, with a manual trigger."""
    return [
        (sop.id, sop.name)
        for sop in live.live_sops()
        if sop.subject_type == subject_type
        and any(
            t.kind == "manual" for revision in sop.revisions for t in revision.definition.triggers
        )
    ]


def task_sop_panel(task: Any) -> dict[str, Any] | None:
    """The task page's box: the SOP the task serves (goal, why, KPI), its run and step, subject.

    Shown for every task with a subject or a run; a task by hand shows its subject only.
    """
    url = subjects.subject_url(task.subject_type, task.subject_id) if task.subject_type else ""
    if task.run_id is None:
        return {"subject_url": url} if url else None
    run = Run.objects.select_related("sop", "revision").filter(pk=task.run_id).first()
    if run is None:
        return {"subject_url": url} if url else None
    step_key = ""
    if task.run_step_id is not None:
        step_key = (
            RunStep.objects.filter(pk=task.run_step_id).values_list("step_key", flat=True).first()
            or ""
        )
    try:
        feedback_url = (
            reverse("sops:feedback", args=[run.sop_id, step_key]) + f"?task={task.pk}&run={run.pk}"
            if step_key
            else ""
        )
    except NoReverseMatch:
        feedback_url = ""
    return {
        "subject_url": url,
        "run": run,
        "sop": run.sop,
        "kpi": KPIS.get(run.sop.kpi),
        "target": kpi_target_text(
            run.sop.kpi, run.sop.kpi_target, currency=business_get().currency
        ),
        "step_key": step_key,
        "feedback_url": feedback_url,
    }


def _in_flight_by_sop() -> dict[int, int]:
    return dict(
        Run.objects.filter(state__in=ACTIVE_RUN_STATES)
        .values("sop_id")
        .annotate(n=Count("id"))
        .values_list("sop_id", "n")
        .order_by()
    )


def _count_by_state(sop_id: int) -> dict[str, int]:
    return dict(
        Run.objects.filter(sop_id=sop_id)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
        .order_by()
    )


def _run_get(run_id: int) -> RunRef | None:
    row = Run.objects.filter(pk=run_id).values("sop_id", "revision_id").first()
    return RunRef(sop_id=row["sop_id"], revision_id=row["revision_id"]) if row else None


def _at_step(sop_id: int) -> dict[str, int]:
    return dict(
        RunStep.objects.filter(
            run__sop_id=sop_id,
            run__state__in=ACTIVE_RUN_STATES,
            state__in=(StepState.PENDING, StepState.RUNNING, StepState.WAITING),
        )
        .values("step_key")
        .annotate(n=Count("id"))
        .values_list("step_key", "n")
        .order_by()
    )


def _step_key_get(run_step_id: int) -> str | None:
    return RunStep.objects.filter(pk=run_step_id).values_list("step_key", flat=True).first()


# What the SOP pages read of runs (procedo.sops.registry); registered at start-up.
RUN_FACTS = RunFacts(
    in_flight_by_sop=_in_flight_by_sop,
    count_by_state=_count_by_state,
    active_states=frozenset(ACTIVE_RUN_STATES),
    run_get=_run_get,
    step_key_get=_step_key_get,
    at_step=_at_step,
)


def _sop_choices() -> list[tuple[int, str]]:
    return list(Sop.objects.order_by("name", "id").values_list("id", "name"))


def _sop_run_sources(sop_id: int) -> QuerySet[Run, dict[str, Any]]:
    """The sources ("sop_run:<id>") of every run of one SOP: the message log's semi-join."""
    return (
        Run.objects.filter(sop_id=sop_id)
        .annotate(src=Concat(Value("sop_run:"), Cast("id", output_field=CharField())))
        .values("src")
    )


# How the message log filters by SOP (procedo.messaging.registry); registered at start-up.
SOP_SOURCES = SopSources(choices=_sop_choices, sources=_sop_run_sources)


@dataclass(frozen=True)
class RunCounts:
    started: int
    completed: int
    failed: int
    in_flight: int


def run_counts_since(since: datetime) -> RunCounts:
    """The morning page's SOP figures in one aggregate query (held-out runs are not work)."""
    figures = Run.objects.exclude(state=RunState.HELD_OUT).aggregate(
        started=Count("id", filter=Q(created_at__gte=since)),
        completed=Count("id", filter=Q(finished_at__gte=since, state=RunState.COMPLETED)),
        failed=Count("id", filter=Q(finished_at__gte=since, state=RunState.FAILED)),
        in_flight=Count("id", filter=Q(state__in=ACTIVE_RUN_STATES)),
    )
    return RunCounts(**figures)
