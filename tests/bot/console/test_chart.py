"""The dashboard chart's geometry: bars scale to an axis of round steps, stay inside the drawing, and an empty
week draws nothing taller than zero."""
from __future__ import annotations

from bot.console.chart import HEIGHT, WIDTH, bars, nice_top

ROWS = [{"zone": "blue", "this": 133, "last": 120}, {"zone": "red", "this": 0, "last": 39}]


def test_the_axis_top_is_four_round_steps_at_or_above_the_largest_count():
    assert [nice_top(n) for n in (0, 3, 7, 133, 161, 200, 201, 4999)] == [4, 4, 8, 200, 200, 200, 400, 8000]


def test_bars_are_inside_the_drawing_and_proportional_to_their_counts():
    chart = bars(ROWS, "zone")
    drawn = [b for g in chart.groups for b in g.bars]
    assert all(0 <= b.x and b.x + b.width <= WIDTH and 0 <= b.y and b.y + b.height <= HEIGHT for b in drawn)
    blue_this, blue_last = chart.groups[0].bars
    assert abs(blue_this.height / blue_last.height - 133 / 120) < 0.01
    assert chart.groups[1].bars[0].height == 0 and [g.label for g in chart.groups] == ["blue", "red"]
    assert chart.ticks[0] == (chart.baseline, 0) and chart.ticks[-1][1] == 200
