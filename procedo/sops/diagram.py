"""An SOP's flow as a picture: trigger → steps → branches → end, laid out for an inline SVG.

The layout is a column: what starts the SOP on top, each step in the order it is written,
the end at the bottom. The usual way on (the next step) is a short arrow down; every other
way (a branch's answer, a decision's option, a failed check, a wait that timed out, a jump
back) leaves the box on its right and runs in a lane of its own to its target, labelled with
why it is taken. Each box can carry how many runs are there now, and, for one run, whether
it was done there, is there now, or failed there. Drawn on the server: no script, no CDN,
and it reads the same on a phone (the SVG scales to the screen's width).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from procedo.sops import describe
from procedo.sops.kinds import TRIGGER_KINDS
from procedo.sops.schemas import END

LEFT, TOP = 8, 8
BOX_W, BOX_H, GAP = 320, 60, 24
LANE_GAP, LABEL_ROOM = 14, 110
TITLE_MAX, DETAIL_MAX, LABEL_MAX = 36, 48, 18


@dataclass
class Node:
    key: str
    title: str
    detail: str
    row: int
    kind: str  # "trigger", a step's kind, or "end"
    # Runs at this step now (the SOP page), or this run's state here (the run page).
    count: int = 0
    state: str = ""  # "", "done", "here", "failed"
    # How many ways leave from / arrive at this box on its right side (spacing of the lanes).
    outs: int = 0
    ins: int = 0

    @property
    def x(self) -> int:
        return LEFT

    @property
    def y(self) -> int:
        return TOP + self.row * (BOX_H + GAP)

    @property
    def bottom(self) -> int:
        return self.y + BOX_H

    @property
    def middle(self) -> int:
        return LEFT + BOX_W // 2

    @property
    def count_text(self) -> str:
        if not self.count:
            return ""
        return ngettext("%(n)s run here", "%(n)s runs here", self.count) % {"n": self.count}


@dataclass
class Edge:
    path: str
    label: str = ""
    label_x: int = 0
    label_y: int = 0


@dataclass
class Diagram:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    summary: str
    notes: list[str] = field(default_factory=list)
    box_w: int = BOX_W
    box_h: int = BOX_H


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ways_on(step: Mapping[str, Any], following: str) -> list[tuple[str, str]]:
    """(target key, why) of every way out of a step; "" as why for the usual next step."""
    kind = step.get("kind")
    usual = str(step.get("next") or following or END)
    if kind == "branch":
        return [
            (str(step.get("then_step") or END), _("if it matches")),
            (str(step.get("else_step") or END), _("otherwise")),
        ]
    ways: list[tuple[str, str]] = []
    if kind == "checklist":
        for item in step.get("items") or []:
            for option in item.get("options") or []:
                if option.get("goto"):
                    ways.append((str(option["goto"]), str(option.get("label", ""))))
        if step.get("on_fail"):
            ways.append((str(step["on_fail"]), _("a check failed")))
    if kind == "wait" and step.get("on_timeout"):
        ways.append((str(step["on_timeout"]), _("no event in time")))
    return [(usual, ""), *ways]


def flow_diagram(
    definition: Mapping[str, Any],
    *,
    subject_type: str,
    holdout_percent: int = 0,
    here: Mapping[str, int] | None = None,
    done: Collection[str] = (),
    current: Collection[str] = (),
    failed: Collection[str] = (),
) -> Diagram:
    """The laid-out diagram of a definition; `here` counts runs at each step key, `done`,
    `current` and `failed` mark one run's way through it."""
    here = here or {}
    steps = list(definition.get("steps") or [])
    triggers = list(definition.get("triggers") or [])
    # The first way it starts on top ("365 days after the last order"), its conditions below.
    moment, condition = _("Started by hand"), ""
    if triggers:
        first = triggers[0]
        kind = TRIGGER_KINDS.get(str(first.get("kind")))
        moment = kind.describe(first, subject_type=subject_type) if kind else str(first["kind"])
        where = describe.conditions_text(
            first.get("conditions"),
            subject_type=subject_type,
            event_type=first.get("event_type", ""),
        )
        condition = _("if %(where)s") % {"where": where} if where else ""
    trigger = Node(
        key="",
        title=_cut(moment, TITLE_MAX),
        detail=_cut(condition, DETAIL_MAX),
        row=0,
        kind="trigger",
    )
    rows = {str(step.get("key")): index + 1 for index, step in enumerate(steps)}
    nodes = [trigger]
    titles = describe.step_titles(definition)
    for index, step in enumerate(steps):
        key = str(step.get("key"))
        state = (
            "failed"
            if key in failed
            else "here"
            if key in current
            else "done"
            if key in done
            else ""
        )
        nodes.append(
            Node(
                key=key,
                title=_cut(step.get("title") or key, TITLE_MAX),
                detail=_cut(
                    describe.step_text(
                        describe.step_for_people(step, titles), subject_type=subject_type
                    ),
                    DETAIL_MAX,
                ),
                row=index + 1,
                kind=str(step.get("kind", "")),
                count=int(here.get(key, 0)),
                state=state,
            )
        )
    end = Node(key=END, title=_("End"), detail="", row=len(steps) + 1, kind="end")
    nodes.append(end)
    by_row = {node.row: node for node in nodes}

    ways: list[tuple[Node, Node, str]] = []
    if steps:
        ways.append((trigger, by_row[1], ""))
    for index, step in enumerate(steps):
        following = str(steps[index + 1].get("key")) if index + 1 < len(steps) else END
        source = by_row[index + 1]
        seen: set[str] = set()
        for target_key, why in _ways_on(step, following):
            if target_key in seen:
                continue
            seen.add(target_key)
            target = end if target_key == END else by_row.get(rows.get(target_key, -1))
            if target is not None:
                ways.append((source, target, why))

    def straight(source: Node, target: Node, why: str) -> bool:
        return target.row == source.row + 1 and not why

    jumps = Counter(source.row for source, target, why in ways if not straight(source, target, why))
    edges: list[Edge] = []
    lanes = 0
    for source, target, why in ways:
        if straight(source, target, why):
            edges.append(Edge(path=f"M{source.middle},{source.bottom} V{target.y - 2}"))
            continue
        lanes += 1
        lane_x = LEFT + BOX_W + lanes * LANE_GAP
        source.outs += 1
        target.ins += 1
        # Ways out leave up to 16 px apart, so each one's label sits on its own line.
        spacing = min(16, (BOX_H - 20) // max(1, jumps[source.row] - 1))
        start_y = source.y + 12 + spacing * (source.outs - 1)
        end_y = target.y + 12 + 8 * (target.ins - 1)
        edges.append(
            Edge(
                path=f"M{LEFT + BOX_W},{start_y} H{lane_x} V{end_y} H{LEFT + BOX_W + 4}",
                label=_cut(why, LABEL_MAX),
                label_x=lane_x + 4,
                label_y=start_y + 4,
            )
        )

    notes = [
        _("It also starts: %(when)s")
        % {"when": describe.trigger_text(t, subject_type=subject_type)}
        for t in triggers[1:]
    ]
    if holdout_percent:
        notes.append(
            _("%(n)s%% of subjects are held out and not treated, to measure the effect.")
            % {"n": holdout_percent}
        )
    total = sum(here.get(str(step.get("key")), 0) for step in steps)
    summary = ngettext(
        "A flow of %(steps)s step",
        "A flow of %(steps)s steps",
        len(steps),
    ) % {"steps": len(steps)}
    if total:
        summary += ", " + ngettext("%(n)s run in it now", "%(n)s runs in it now", total) % {
            "n": total
        }
    return Diagram(
        nodes=nodes,
        edges=edges,
        width=LEFT + BOX_W + lanes * LANE_GAP + (LABEL_ROOM if lanes else LEFT),
        height=end.bottom + TOP,
        summary=summary,
        notes=notes,
    )
