"""The time-series chart, drawn on the server as SVG: page views as bars, visitors as a line.

No charting library and no script: `layout` turns the rows into coordinates, and the template
draws them (each bucket carries a ``<title>``, the browser's tooltip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Chart", "layout"]

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
MAX_LABELS = 8


@dataclass(frozen=True)
class Bucket:
    x: float  # left edge of the bar
    width: float
    bar_y: float
    bar_height: float
    dot_x: float
    dot_y: float
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    buckets: list[Bucket]
    line: str  # the visitors polyline's points
    y_ticks: list[tuple[float, str]]  # (y, label)
    x_labels: list[tuple[float, str]]  # (x, label)
    baseline: float
    left: int
    right: float


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _count(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.1f}"


def layout(rows: list[dict[str, Any]], hourly: bool) -> Chart:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    top = nice_ceiling(max([1, *(max(r["visitors"], r["pageviews"]) for r in rows)]))
    n = max(len(rows), 1)
    slot = plot_w / n
    buckets = []
    points = []
    for i, row in enumerate(rows):
        x = LEFT + i * slot
        bar_h = plot_h * row["pageviews"] / top
        dot_y = baseline - plot_h * row["visitors"] / top
        when = row["bucket"][:16] if hourly else row["bucket"][:10]
        buckets.append(
            Bucket(
                x=round(x + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                bar_y=round(baseline - bar_h, 2),
                bar_height=round(bar_h, 2),
                dot_x=round(x + slot / 2, 2),
                dot_y=round(dot_y, 2),
                title=f"{when}: {row['visitors']:,} visitors, {row['pageviews']:,} page views",
            )
        )
        points.append(f"{x + slot / 2:.2f},{dot_y:.2f}")
    every = max(1, math.ceil(n / MAX_LABELS))
    x_labels = [
        (
            round(LEFT + i * slot + slot / 2, 2),
            row["bucket"][11:16] if hourly else row["bucket"][5:10],
        )
        for i, row in enumerate(rows)
        if i % every == 0
    ]
    y_ticks = [(round(baseline - plot_h * f, 2), _count(top * f)) for f in (0, 0.5, 1)]
    return Chart(
        WIDTH, HEIGHT, buckets, " ".join(points), y_ticks, x_labels, baseline, LEFT, WIDTH - RIGHT
    )
