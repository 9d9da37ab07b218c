"""What the SOP pages show of runs, without importing the engine that owns them.

Runs are rows of `procedo.automation`, which stands above sops (it runs what sops
define). At start-up it registers here the few facts the SOP pages read (runs in
flight, a run's revision, a step's key) and the panels it adds to an SOP's page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from procedo.sops.models import Sop


@dataclass(frozen=True)
class RunRef:
    sop_id: int
    revision_id: int


@dataclass(frozen=True)
class RunFacts:
    # {sop_id: runs not yet ended}, every SOP at once
    in_flight_by_sop: Callable[[], dict[int, int]]
    # {state: runs} of one SOP, and which of those states are "in flight"
    count_by_state: Callable[[int], dict[str, int]]
    active_states: frozenset[str]
    run_get: Callable[[int], RunRef | None]
    step_key_get: Callable[[int], str | None]
    # {step key: runs of one SOP waiting at or working on that step now}
    at_step: Callable[[int], dict[str, int]] = lambda _sop_id: {}


def _none(*_args: Any) -> Any:
    return None


_facts = RunFacts(
    in_flight_by_sop=dict,
    count_by_state=lambda _sop_id: {},
    active_states=frozenset(),
    run_get=_none,
    step_key_get=_none,
)


def run_facts_register(facts: RunFacts) -> None:
    global _facts
    _facts = facts


def run_facts() -> RunFacts:
    return _facts


@dataclass(frozen=True)
class RunsMoved:
    """Runs in flight a publish moved onto the new revision, and those that stayed."""

    moved: list[int]
    stayed: list[int]


# (sop_id, revision_id, run_ids or None for every run that can) → RunsMoved; raises a
# DomainError naming `move_run_ids` when a listed run cannot move (nothing moved then).
_runs_mover: Callable[..., RunsMoved] = lambda **_kw: RunsMoved([], [])  # noqa: E731


def runs_mover_register(mover: Callable[..., RunsMoved]) -> None:
    global _runs_mover
    _runs_mover = mover


def runs_move(*, sop_id: int, revision_id: int, run_ids: list[int] | None) -> RunsMoved:
    return _runs_mover(sop_id=sop_id, revision_id=revision_id, run_ids=run_ids)


@dataclass(frozen=True)
class SopPanel:
    """A section of an SOP's page from another app; `context` returns None to show nothing."""

    key: str
    template: str
    context: Callable[[HttpRequest, Sop], dict[str, Any] | None]
    order: int = 100


_panels: dict[str, SopPanel] = {}


def sop_panel_register(panel: SopPanel) -> None:
    _panels[panel.key] = panel


def sop_panels(request: HttpRequest, sop: Sop) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of every panel with something to show on this SOP's page."""
    shown = []
    for panel in sorted(_panels.values(), key=lambda panel: panel.order):
        context = panel.context(request, sop)
        if context is not None:
            shown.append((panel.template, {"sop": sop, **context}))
    return shown
