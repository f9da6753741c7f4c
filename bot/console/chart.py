"""The dashboard's bar chart as geometry for an inline SVG (drawn by templates/chart.html): two bars per
zone, this week and last, scaled to the largest count. Pure: numbers in, rectangles out; colours are SVG
presentation attributes (the CSP allows no inline style)."""
from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 640, 260
TOP, BOTTOM, LEFT, RIGHT = 16, 40, 48, 8  # room for the count labels, the zone names and the axis
THIS_FILL, LAST_FILL = "#0b5cad", "#a7c4e2"
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    value: int
    week: str  # "this" or "last"


@dataclass(frozen=True)
class Group:
    label: str
    centre: float
    bars: tuple[Bar, Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    x0: float  # where the grid lines start and end
    x1: float
    ticks: tuple[tuple[float, int], ...]  # (y, value) of the grid lines
    groups: tuple[Group, ...]


def nice_top(largest: int) -> int:
    """The axis' top: TICKS grid steps of 1, 2 or 5 times a power of ten, at or above the largest count
    (so every grid line's label is a whole number)."""
    need, scale = max(largest, 1) / TICKS, 1
    while True:
        for factor in (1, 2, 5):
            if factor * scale >= need:
                return factor * scale * TICKS
        scale *= 10


def bars(rows: list[dict], key: str) -> Chart:
    """Rows of {key: label, "this": n, "last": n} as a chart, one group of two bars per row."""
    top = nice_top(max([r["this"] for r in rows] + [r["last"] for r in rows] + [0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline, slot = TOP + plot_h, plot_w / max(len(rows), 1)
    bar_w = slot * 0.32

    def bar(x: float, value: int, fill: str, week: str) -> Bar:
        h = plot_h * value / top
        return Bar(round(x, 1), round(baseline - h, 1), round(bar_w, 1), round(h, 1), fill, value, week)

    groups = tuple(Group(r[key], round(LEFT + slot * (i + 0.5), 1),
                         (bar(LEFT + slot * (i + 0.5) - bar_w - 1, r["this"], THIS_FILL, "this"),
                          bar(LEFT + slot * (i + 0.5) + 1, r["last"], LAST_FILL, "last")))
                   for i, r in enumerate(rows))
    ticks = tuple((round(baseline - plot_h * k / TICKS, 1), top * k // TICKS) for k in range(TICKS + 1))
    return Chart(WIDTH, HEIGHT, baseline, LEFT, WIDTH - RIGHT, ticks, groups)
