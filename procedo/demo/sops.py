"""The demo store's SOPs: the whole library, installed, adapted, reviewed, published, at work.

Everything goes through the real services: `library_install` makes the drafts,
the owner adapts one (the Fulfilment team confirms orders) and sends each for
review, a manager approves and publishes, and then the store's day is played:
the engine starts runs for the latest orders (as it would have from their
`order.created` events had the SOPs been live then), the sweeps start the
date triggers, people start complaint, sales-call and VIP runs from cards, and
the staff take, answer and complete some of the tasks. What is left is work in
flight: decisions waiting, tasks in queues and in people's days (some overdue),
runs waiting on a timer, and some completed.

Deterministic: subjects are chosen by the demo plan's order (time, then id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from procedo.automation.models import Run, RunStep, TriggerKind
from procedo.automation.services import engine as automation_engine
from procedo.automation.services import runs as automation_runs
from procedo.automation.services import steps as executor
from procedo.automation.services import sweeps
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.orders.models import Order
from procedo.sops import live
from procedo.sops.library import library_install
from procedo.sops.models import Sop
from procedo.sops.services import revisions as revision_services
from procedo.work.models import Task
from procedo.work.services import lifecycle as work_services

# Steps the Fulfilment team works in the demo store (the library gives them to operators).
TEAM_STEPS = ("confirm_call", "confirm_retry")
CONFIRMED = {"outcome": "confirmed", "payment": "cod"}
PACK_PASSED = {
    "items_match": "passed",
    "no_defects": "passed",
    "documents": "passed",
    "packed_safe": "passed",
    "label": "passed",
}
DAMAGED = {
    "reason": "Пошкоджений товар",
    "details": "Коробка прийшла зім'ята, у чашки відбита ручка.",
    "evidence": True,
    "wish": "Заміна",
}


@dataclass(frozen=True)
class DemoSops:
    sops: int = 0
    runs: int = 0
    open_tasks: int = 0


def _adapted(definition: Mapping[str, Any], team_id: int) -> dict[str, Any]:
    steps = [
        {**step, "assignee": {"kind": "team", "team_id": team_id}}
        if step["key"] in TEAM_STEPS
        else step
        for step in definition["steps"]
    ]
    return {**definition, "steps": steps}


def _publish(sop: Sop, *, author: Any, reviewer: Any, team_id: int) -> None:
    draft = sop.revisions.get()
    if sop.library_key == "order_fulfilment":
        revision_services.revision_update(
            revision_id=draft.pk,
            definition=_adapted(draft.definition, team_id),
            actor=author,
            note="Підтвердження замовлень — команда Fulfilment",
        )
    revision_services.revision_transition(revision_id=draft.pk, to_state="review", actor=author)
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="approved", actor=reviewer, comment="Погоджено"
    )
    revision_services.revision_transition(
        revision_id=draft.pk, to_state="published", actor=reviewer
    )


def demo_sops_load(
    *, owner: Any, reviewer: Any, team_id: int, staff: Mapping[str, Any] | None = None
) -> DemoSops:
    """The library, published; with `staff` (procedo.demo.load's), work in flight as well."""
    # A Ukrainian store: its SOPs are written in Ukrainian (the answers below are too).
    installed = library_install(keys=None, actor=owner, language="uk")
    for sop in installed:
        _publish(sop, author=owner, reviewer=reviewer, team_id=team_id)
    sops = {str(sop.library_key): sop for sop in installed}
    if staff and sops:
        _Day(sops, owner=owner, staff=staff).play()
    return DemoSops(
        sops=len(installed),
        runs=Run.objects.count(),
        open_tasks=Task.objects.filter(state__in=("open", "in_progress")).count(),
    )


class _Day:
    """One working day of the demo store with the SOPs live."""

    def __init__(self, sops: Mapping[str, Sop], *, owner: Any, staff: Mapping[str, Any]) -> None:
        self.sops = sops
        self.now = timezone.now()
        self.owner = owner
        self.staff = staff

    def person(self, username: str) -> Any:
        return self.staff.get(username, self.owner)

    def play(self) -> None:
        self.orders()
        self.cards()
        sweeps.sweeps_run(now=self.now)
        self.advance()

    def advance(self) -> None:
        executor.runs_advance_all(now=timezone.now())

    # ------------------------------------------------------------ orders

    def latest(self, status: str, count: int) -> list[Order]:
        return list(
            Order.objects.filter(status__code=status, customer__isnull=False).order_by(
                "-placed_at", "-id"
            )[:count]
        )

    def orders(self) -> None:
        fresh = self.latest("new", 10)
        confirmed = self.latest("confirmed", 6)
        packed = self.latest("packed", 4)
        shipped = self.latest("shipped", 3)
        runs = self.start_on_orders([*fresh, *confirmed, *packed, *shipped])
        self.advance()
        taras, iryna = self.person("taras"), self.person("iryna")
        # Orders placed before anyone worked them: their calls fell due 15 minutes after.
        self.backdate_confirmations(fresh, runs)
        for order in fresh[:3]:
            self.take(runs[order.pk], "confirm_call", taras)
        for order in fresh[3:4]:  # no answer: an SMS, and a second call in two hours
            self.work(runs[order.pk], "confirm_call", iryna, {"outcome": "unreachable"})
        for order in [*confirmed, *packed, *shipped]:
            self.work(runs[order.pk], "confirm_call", taras, CONFIRMED)
        self.advance()
        for order in confirmed[:2]:  # a wrong item caught before it travels
            self.work(runs[order.pk], "pack", iryna, {**PACK_PASSED, "items_match": "failed"})
        for order in confirmed[2:3]:
            self.take(runs[order.pk], "pack", iryna)
        for order in [*packed, *shipped]:
            self.work(runs[order.pk], "pack", iryna, PACK_PASSED)
        self.advance()
        for order in confirmed[:2]:
            self.take(runs[order.pk], "fix_packing", iryna)
        for order in packed[:2]:
            self.take(runs[order.pk], "ship", taras)
        for order in shipped:
            self.work(runs[order.pk], "ship", taras, {"waybill": True, "handed_over": True})
        self.advance()

    def start_on_orders(self, orders: Sequence[Order]) -> dict[int, int]:
        """Runs as the engine starts them from each order's `order.created` event."""
        sop = next(s for s in live.live_sops() if s.id == self.sops["order_fulfilment"].pk)
        revision = sop.published
        assert revision is not None
        placed = dict(
            Event.objects.filter(
                event_type="order.created",
                subject_type="order",
                subject_id__in=[order.pk for order in orders],
            ).values_list("subject_id", "id")
        )
        new_runs = [
            automation_runs.new_run_for(
                sop,
                revision,
                subject_id=order.pk,
                occurrence_key=f"e{placed[order.pk]}",
                trigger_key="placed",
                trigger_kind=TriggerKind.EVENT,
                event_id=placed[order.pk],
            )
            for order in orders
            if order.pk in placed
        ]
        automation_runs.runs_insert(new_runs, now=self.now)
        return dict(
            Run.objects.filter(sop_id=sop.id, subject_type="order").values_list("subject_id", "id")
        )

    def backdate_confirmations(self, orders: Sequence[Order], runs: Mapping[int, int]) -> None:
        for order in orders:
            if order.pk not in runs:
                continue
            placed, due = order.placed_at, order.placed_at + timedelta(minutes=15)
            steps = RunStep.objects.filter(run_id=runs[order.pk], step_key="confirm_call")
            Run.objects.filter(pk=runs[order.pk]).update(created_at=placed)
            Task.objects.filter(run_step_id__in=steps.values("id")).update(
                created_at=placed, due_at=due
            )
            steps.update(created_at=placed, started_at=placed, due_at=due)

    # ------------------------------------------------------------ people's tasks

    def task(self, run_id: int | None, step_key: str) -> Task | None:
        if run_id is None:
            return None
        step = (
            RunStep.objects.filter(run_id=run_id, step_key=step_key, task_id__isnull=False)
            .order_by("-iteration")
            .first()
        )
        return Task.objects.filter(pk=step.task_id).first() if step and step.task_id else None

    def take(self, run_id: int | None, step_key: str, person: Any) -> Task | None:
        task = self.task(run_id, step_key)
        if task is None or not task.is_open:
            return None
        if task.assignee_user_id is None:
            task = work_services.task_take(task_id=task.pk, actor=person)
        return task

    def work(
        self, run_id: int | None, step_key: str, person: Any, answers: Mapping[str, Any]
    ) -> None:
        task = self.take(run_id, step_key, person)
        if task is not None:
            work_services.task_complete(task_id=task.pk, actor=person, answers=answers or None)

    # ------------------------------------------------------------ runs started from cards

    def customers(self, count: int, *, skip: int = 0) -> list[int]:
        """Customers who bought lately (most recent first)."""
        return list(
            Customer.objects.filter(merged_into__isnull=True, last_order_at__isnull=False)
            .order_by(F("last_order_at").desc(), "-id")
            .values_list("id", flat=True)[skip : skip + count]
        )

    def start(self, key: str, customer_id: int, person: Any, token: str) -> int:
        run = automation_engine.run_start_manual(
            sop_id=self.sops[key].pk,
            subject_type="customer",
            subject_id=customer_id,
            actor=person,
            idempotency_key=f"demo:{token}",
        )
        return int(run.pk)

    def cards(self) -> None:
        maksym, taras, olena = self.person("maksym"), self.person("taras"), self.person("olena")
        complaints = [
            self.start("complaint", customer_id, maksym, f"complaint:{customer_id}")
            for customer_id in self.customers(2)
        ]
        calls = [
            self.start("objection_handling", customer_id, taras, f"call:{customer_id}")
            for customer_id in self.customers(3, skip=2)
        ]
        top = list(
            Customer.objects.filter(merged_into__isnull=True)
            .order_by(F("lifetime_value").desc(), "id")
            .values_list("id", flat=True)[:3]
        )
        vips = [self.start("vip_recognition", c, olena, f"vip:{c}") for c in top]
        self.advance()
        # A damaged parcel: support gathered the facts, the remedy waits for a manager.
        for run_id in complaints[:1]:
            self.work(run_id, "gather", maksym, DAMAGED)
        for run_id in complaints[1:]:
            self.take(run_id, "gather", maksym)
        # Three sales calls: "too expensive", an order at once, "I'll think about it".
        for run_id, objection in zip(calls, ("price", "none", "think"), strict=False):
            self.work(run_id, "call", taras, {"objection": objection})
        for run_id in vips[:2]:
            self.work(run_id, "personal_touch", olena, {"call": True, "gift": True})
        self.advance()
        for run_id, step_key in zip(
            calls, ("script_price", "result", "script_think"), strict=False
        ):
            if step_key == "result":
                self.work(run_id, step_key, taras, {"outcome": "ordered"})
            else:
                self.take(run_id, step_key, taras)
