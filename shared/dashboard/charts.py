"""Chart geometry for server-rendered SVG: no charting script, nothing for the CSP to allow.

The template draws rectangles and polylines at the coordinates computed here; the SVG scales
with its viewBox, so one geometry serves a phone and a desktop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 700
HEIGHT = 220
LEFT = 44  # room for the y-axis labels
BOTTOM = 24  # room for the x-axis labels
TOP = 10
RIGHT = 8


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str  # shown as the SVG <title> tooltip


@dataclass(frozen=True)
class Line:
    series: str
    points: str  # "x,y x,y ..." for <polyline>; breaks where a day has no value are skipped
    dots: list[tuple[float, float, str]]  # x, y, title


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_bottom: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    bars: list[Bar]
    lines: list[Line]
    empty: bool


def _nice_ceiling(value: float, *, whole: bool) -> float:
    """4, 8, 12 or 20 times a power of ten at or above `value`: its quarters (the grid lines) are
    then round numbers. Counts (`whole`) never get fractional grid lines."""
    floor = 4.0 if whole else 0.0
    if value <= floor:
        return max(floor, 1.0)
    magnitude = 10 ** math.floor(math.log10(value / 4))
    for step in (4, 8, 12, 20, 40):
        if value <= step * magnitude:
            return round(step * magnitude, 9)
    return round(40 * magnitude, 9)


def _format(value: float) -> str:
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _frame(
    labels: Sequence[str], top_value: float, unit: str, *, whole: bool
) -> tuple[float, float, float, list[Tick], list[Tick]]:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(labels), 1)
    ceiling = _nice_ceiling(top_value, whole=whole)
    y_ticks = [
        Tick(TOP + plot_height * (1 - i / 4), _format(ceiling * i / 4) + (unit if i else ""))
        for i in range(5)
    ]
    every = max(1, math.ceil(len(labels) / 7))  # at most ~7 day labels fit a phone
    x_ticks = [Tick(LEFT + slot * (i + 0.5), label) for i, label in enumerate(labels) if i % every == 0]
    return slot, plot_height, ceiling, x_ticks, y_ticks


def stacked_bars(labels: Sequence[str], series: Mapping[str, Sequence[int]]) -> Chart:
    """One bar per label, each series stacked on the previous one."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    slot, plot_height, ceiling, x_ticks, y_ticks = _frame(labels, max(totals, default=0), "", whole=True)
    bars: list[Bar] = []
    for i, label in enumerate(labels):
        base = 0
        for name, values in series.items():
            value = values[i]
            if value:
                y_top = TOP + plot_height * (1 - (base + value) / ceiling)
                height = plot_height * value / ceiling
                bars.append(
                    Bar(
                        LEFT + slot * i + slot * 0.15,
                        y_top,
                        slot * 0.7,
                        height,
                        name,
                        f"{label}: {value} {name}",
                    )
                )
            base += value
    return Chart(
        WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP + plot_height, x_ticks, y_ticks, bars, [], not any(totals)
    )


def lines(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], unit: str = "") -> Chart:
    """One line per series; days without a value (no replies) leave a gap in the dots."""
    present = [v for values in series.values() for v in values if v is not None]
    slot, plot_height, ceiling, x_ticks, y_ticks = _frame(labels, max(present, default=0), unit, whole=False)
    drawn: list[Line] = []
    for name, values in series.items():
        dots = [
            (
                LEFT + slot * (i + 0.5),
                TOP + plot_height * (1 - v / ceiling),
                f"{labels[i]}: {_format(round(v, 1))}{unit} {name}",
            )
            for i, v in enumerate(values)
            if v is not None
        ]
        drawn.append(Line(name, " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in dots), dots))
    return Chart(
        WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP + plot_height, x_ticks, y_ticks, [], drawn, not present
    )
