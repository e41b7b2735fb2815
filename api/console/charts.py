"""Small inline SVG charts rendered on the server: no chart library, no script, accessible.

Each chart is an <svg role="img"> with a title and a description that state the numbers, and
the page shows the same numbers in a table next to it, so nobody needs to see the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 76, 40, 12, 36
INK = "#1f2937"
GRID = "#d1d5db"
COLORS = ("#1d4ed8", "#b45309", "#047857")  # each >= 4.5:1 on white


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]


def _bounds(series: Sequence[Series]) -> tuple[float, float]:
    values = [v for s in series for v in s.values if v is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    if high == low:
        high = low + 1
    return low, high


def _frame(
    title: str, description: str, labels: Sequence[str], low: float, high: float,
    fmt: Callable[[float], str],
) -> tuple[list[str], Callable[[float], float], float]:  # fmt: skip
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def y(value: float) -> float:
        return PAD_TOP + plot_h * (high - value) / (high - low)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{_id(title)}-t {_id(title)}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{_id(title)}-t">{escape(title)}</title>',
        f'<desc id="{_id(title)}-d">{escape(description)}</desc>',
    ]
    for tick in (low, (low + high) / 2, high):
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="14" fill="{INK}">{escape(fmt(tick))}</text>'
        )
    step = plot_w / max(len(labels), 1)
    every = max(1, -(-len(labels) // 6))
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            x = PAD_LEFT + step * (i + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="14" '
                f'fill="{INK}">{escape(label)}</text>'
            )
    return parts, y, step


def _id(title: str) -> str:
    return "c-" + "".join(ch if ch.isalnum() else "-" for ch in title.lower())


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<li><span class="swatch swatch-{i % len(COLORS)}"></span>{escape(s.label)}</li>'
        for i, s in enumerate(series)
    )
    return f'<ul class="legend" aria-hidden="true">{items}</ul>'


def _chart_frame(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str]
) -> tuple[list[str], Callable[[float], float], float]:
    """The SVG frame of a month chart, described in words for screen readers."""
    low, high = _bounds(series)
    latest = "; ".join(
        f"{s.label} {fmt(s.values[-1])}" for s in series if s.values and s.values[-1] is not None
    )
    description = f"{len(labels)} months from {labels[0]} to {labels[-1]}. Latest: {latest}."
    return _frame(title, description, labels, low, high, fmt)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str]
) -> str:
    """Lines over months (e.g. margin and utilisation trend)."""
    if not labels:
        return ""
    parts, y, step = _chart_frame(title, labels, series, fmt)
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = [
            f"{PAD_LEFT + step * (j + 0.5):.1f},{y(v):.1f}"
            for j, v in enumerate(s.values)
            if v is not None
        ]
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2.5" '
            f'points="{" ".join(points)}"/>'
        )
    parts.append("</svg>")
    return "".join(parts) + _legend(series)


def bar_chart(
    title: str, labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str]
) -> str:
    """Grouped bars per month (e.g. license waste and leakage)."""
    if not labels:
        return ""
    parts, y, step = _chart_frame(title, labels, series, fmt)
    width = step * 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        for j, v in enumerate(s.values):
            if v is None:
                continue
            x = PAD_LEFT + step * j + step * 0.1 + width * i
            top, bottom = sorted((y(v), y(0.0)))
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{max(bottom - top, 0.5):.1f}" fill="{color}"/>'
            )
    parts.append("</svg>")
    return "".join(parts) + _legend(series)
