"""Charts drawn on the server as SVG geometry: readable offline, no script, no CDN.

A template draws the bars and labels from these numbers (`core/_bar_chart.html`), so a
chart is plain markup the Content-Security-Policy allows and a screen reader can label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

# The drawing's own units; the SVG scales to its box.
WIDTH = 640
HEIGHT = 200
LEFT = 48  # the least room for the value axis labels
# A phone draws the axis labels at 17 of the drawing's units (analytics.css), a digit
# about 9.5 wide: the room for them follows the longest, so "1 200 000 ₴" is not cut.
LABEL_CHARACTER = 9.5
BOTTOM = 24  # room for the day labels


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # under the bar (shown for some bars only)
    title: str  # what a pointer or a screen reader gets: "3 Dec: 1 250.00 ₴"
    show_label: bool
    anchor: str = "start"  # the last label ends at its bar, inside the drawing


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    ticks: list[Tick]
    # A level drawn across the bars, such as a goal's target.
    reference: Tick | None = None
    # A second series drawn as a line over the bars (a comparison period): "x,y x,y …".
    line: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: float = HEIGHT - BOTTOM


def _nice_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about four gridlines."""
    if top <= 0:
        return 1.0
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def bar_chart(
    points: list[tuple[str, Decimal | int, str]],
    *,
    value_label: object,
    every: int = 1,
    reference: tuple[Decimal, str] | None = None,
    compare: list[Decimal | int | None] | None = None,
) -> BarChart:
    """`points` are (label, value, title); `value_label(v)` writes an axis value; every
    `every`-th label (back from the last) is shown so thirty days do not overlap;
    `reference` is a level and its label (a target) drawn across; `compare`, one value
    per point (None: a gap), a line over the bars."""
    values = [float(value) for _label, value, _title in points]
    others = [float(value) for value in compare or [] if value is not None]
    top = max([0.0, *values, *others, float(reference[0]) if reference else 0.0])
    step = _nice_step(top)
    ceiling = step * max(1, -(-top // step)) if top else step
    plot_height = HEIGHT - BOTTOM - 8
    ticks = []
    level = 0.0
    while level <= ceiling + 1e-9:
        y = HEIGHT - BOTTOM - level / ceiling * plot_height
        ticks.append(Tick(y=round(y, 1), label=value_label(level)))  # type: ignore[operator]
        level += step
    left = max(LEFT, math.ceil(max(len(tick.label) for tick in ticks) * LABEL_CHARACTER) + 10)
    slot = (WIDTH - left) / max(1, len(points))
    bars = []
    for index, ((label, _value, title), value) in enumerate(zip(points, values, strict=True)):
        height = max(0.0, value) / ceiling * plot_height
        bars.append(
            Bar(
                x=round(left + index * slot + slot * 0.15, 1),
                y=round(HEIGHT - BOTTOM - height, 1),
                width=round(slot * 0.7, 1),
                height=round(height, 1),
                label=label,
                title=title,
                # Counted back from the last bar: today always has its label.
                show_label=(len(points) - 1 - index) % every == 0,
                anchor="end" if index == len(points) - 1 else "start",
            )
        )
    level_line = None
    if reference is not None:
        y = HEIGHT - BOTTOM - max(0.0, float(reference[0])) / ceiling * plot_height
        level_line = Tick(y=round(y, 1), label=reference[1])
    line = " ".join(
        f"{round(bar.x + bar.width / 2, 1)},"
        f"{round(HEIGHT - BOTTOM - max(0.0, float(value)) / ceiling * plot_height, 1)}"
        for bar, value in zip(bars, compare or [], strict=False)
        if value is not None
    )
    return BarChart(bars=bars, ticks=ticks, reference=level_line, line=line, left=left)
