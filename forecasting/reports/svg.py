"""Static SVG charts drawn in Python, so a report opens offline and by e-mail with no chart library.

Coordinates are rounded to 0.1 px: the charts stay sharp and the file stays small.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

PALETTE = ("#1f5fa8", "#e08a2c", "#2e8b57", "#8e44ad", "#c0392b", "#5d6d7e")
INK, GRID, MUTED = "#1f2933", "#e4e7eb", "#6b7280"
CHAR_W = 6.2  # average glyph width at 11 px, to lay out labels and legends without measuring text


def short_number(v: float) -> str:
    if not math.isfinite(v):
        return ""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def percent(v: float) -> str:
    return f"{v * 100:.0f}%" if math.isfinite(v) else ""


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] with about `count` steps of 1, 2, 2.5 or 5 x 10^k."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    n = int(math.ceil((hi - start) / step - 1e-9))
    return [round(start + i * step, 12) for i in range(n + 1)]


@dataclass
class Area:
    """The plotting rectangle and the data range it shows."""

    left: float
    top: float
    width: float
    height: float
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, v: float) -> float:
        return round(self.left + (v - self.x0) / ((self.x1 - self.x0) or 1.0) * self.width, 1)

    def y(self, v: float) -> float:
        return round(self.top + self.height - (v - self.y0) / ((self.y1 - self.y0) or 1.0) * self.height, 1)

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


def svg(width: float, height: float, label: str, body: Sequence[str]) -> str:
    # No xmlns: inline SVG in HTML5 needs none, and the report then holds no URL at all.
    return (
        f'<svg class="chart" viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{escape(label)}" '
        f'font-size="11" fill="{INK}"><title>{escape(label)}</title>{"".join(body)}</svg>'
    )


def text(
    x: float,
    y: float,
    s: str,
    anchor: str = "start",
    color: str = INK,
    size: int | None = None,
    extra: str = "",
) -> str:
    size_attr = f' font-size="{size}"' if size else ""
    return (
        f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" fill="{color}"{size_attr}{extra}>'
        f"{escape(s)}</text>"
    )


def line(x1: float, y1: float, x2: float, y2: float, color: str = GRID, extra: str = "") -> str:
    return f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{color}"{extra}/>'


def polyline(
    xs: Sequence[float], ys: Sequence[float], color: str, width: float = 1.5, extra: str = ""
) -> str:
    pts = " ".join(f"{x:g},{y:g}" for x, y in zip(xs, ys, strict=True))
    return f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width:g}"{extra}/>'


def legend(items: Sequence[tuple[str, str, str]], x: float, y: float) -> str:
    """Swatches in a row: (label, color, shape) with shape 'line', 'band', 'dash' or 'box'."""
    parts = []
    for label, color, shape in items:
        if shape == "line":
            parts.append(line(x, y - 4, x + 16, y - 4, color, ' stroke-width="2"'))
        elif shape == "dash":
            parts.append(line(x, y - 4, x + 16, y - 4, color, ' stroke-dasharray="3 3"'))
        else:
            opacity = ' fill-opacity="0.25"' if shape == "band" else ""
            parts.append(f'<rect x="{x:g}" y="{y - 9:g}" width="16" height="10" fill="{color}"{opacity}/>')
        parts.append(text(x + 20, y, label))
        x += 20 + len(label) * CHAR_W + 14
    return "".join(parts)


def y_axis(area: Area, ticks: Sequence[float], fmt: Callable[[float], str]) -> str:
    return "".join(
        line(area.left, area.y(t), area.right, area.y(t))
        + text(area.left - 6, area.y(t) + 4, fmt(t), "end", MUTED)
        for t in ticks
    )


def date_ticks(start: int, stop: int) -> list[int]:
    """Day numbers for about five date labels across [start, stop]."""
    span = max(stop - start, 1)
    step = next((s for s in (1, 2, 7, 14, 28, 56, 91, 182, 365) if span / s <= 6), 730)
    return list(range(start, stop + 1, step))


@dataclass
class Window:
    """One forecast from one cutoff: its dates, mean and band."""

    dates: pd.DatetimeIndex
    mean: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None


def _days(dates) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(dates).values.astype("datetime64[D]").astype(np.int64))


def forecast_chart(
    label: str,
    actual_dates: pd.DatetimeIndex,
    actual: np.ndarray,
    windows: Sequence[Window],
    cutoffs: Sequence[pd.Timestamp],
    band_label: str,
    width: int = 560,
    height: int = 230,
) -> str:
    """Actual demand against each cutoff's forecast mean, with the forecast band shaded."""
    ad = _days(actual_dates)
    all_days = (
        np.concatenate([ad, *[_days(w.dates) for w in windows], _days(cutoffs)])
        if len(ad)
        else _days(cutoffs)
    )
    highs = [np.nanmax(actual) if len(actual) else 0.0]
    for w in windows:
        highs.append(np.nanmax(w.hi if w.hi is not None else w.mean))
        highs.append(np.nanmax(w.mean))
    ymax = max(float(np.nanmax(highs)), 1.0)
    yticks = nice_ticks(0.0, ymax, 4)
    area = Area(
        48,
        30,
        width - 48 - 12,
        height - 30 - 26,
        float(all_days.min()),
        float(all_days.max()),
        0.0,
        yticks[-1],
    )
    body = [y_axis(area, yticks, short_number)]
    for w in windows:
        xs = [area.x(d) for d in _days(w.dates)]
        if w.lo is not None and w.hi is not None:
            upper = [f"{x:g},{area.y(v):g}" for x, v in zip(xs, w.hi, strict=True)]
            lower = [f"{x:g},{area.y(v):g}" for x, v in zip(xs[::-1], w.lo[::-1], strict=True)]
            body.append(
                f'<polygon points="{" ".join(upper + lower)}" fill="{PALETTE[0]}" fill-opacity="0.18"/>'
            )
        body.append(polyline(xs, [area.y(v) for v in w.mean], PALETTE[0], 1.6))
    for c in _days(cutoffs):
        body.append(line(area.x(c), area.top, area.x(c), area.bottom, MUTED, ' stroke-dasharray="3 3"'))
    if len(ad):
        body.append(polyline([area.x(d) for d in ad], [area.y(v) for v in actual], INK, 1.2))
    for t in date_ticks(int(area.x0), int(area.x1)):
        when = pd.Timestamp(np.datetime64(t, "D"))
        body.append(line(area.x(t), area.bottom, area.x(t), area.bottom + 4, MUTED))
        anchor = "end" if area.x(t) > area.right - 16 else "middle"  # keep the last date inside the chart
        body.append(text(area.x(t), area.bottom + 16, when.strftime("%d %b"), anchor, MUTED))
    body.append(
        legend(
            [
                ("Actual", INK, "line"),
                ("Forecast mean", PALETTE[0], "line"),
                (band_label, PALETTE[0], "band"),
                ("Cutoff", MUTED, "dash"),
            ],
            area.left,
            14,
        )
    )
    return svg(width, height, label, body)


def hbar_chart(
    label: str,
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    fmt: Callable[[float], str],
    references: Sequence[tuple[float, str, str]] = (),
    width: int = 560,
    ceiling: float | None = None,
) -> str:
    """Horizontal grouped bars, one group per category; references are dashed lines (value, label, color).

    `ceiling` caps the axis where values cannot go beyond it, e.g. 1.0 for a coverage or fill rate.
    """
    names = list(series)
    bar_h, gap = 13, 10
    group_h = len(names) * bar_h + gap
    label_w = min(max((len(c) for c in categories), default=4) * CHAR_W + 12, 200)
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    refs = [r[0] for r in references]
    lo, hi = min([0.0, *values, *refs]), max([0.0, *values, *refs])
    pad = (hi - lo) * 0.18 or 1.0  # room for the value labels at the bar ends
    upper = hi + (pad if hi > 0 else 0)
    if ceiling is not None:
        upper = max(min(upper, ceiling), hi)
    ticks = nice_ticks(lo - (pad if lo < 0 else 0), upper, 5)
    top = 40 if references else 28 if len(names) > 1 else 12  # room for the legend and reference labels
    area = Area(label_w, top, width - label_w - 36, len(categories) * group_h, ticks[0], ticks[-1], 0, 1)
    height = area.bottom + 24
    body = []
    for t in ticks:
        body.append(line(area.x(t), area.top, area.x(t), area.bottom))
        body.append(text(area.x(t), area.bottom + 15, fmt(t), "middle", MUTED))
    zero = area.x(0.0)
    for i, cat in enumerate(categories):
        y0 = area.top + i * group_h + gap / 2
        body.append(text(area.left - 8, y0 + len(names) * bar_h / 2 + 4, cat, "end"))
        for j, name in enumerate(names):
            v = series[name][i]
            y = y0 + j * bar_h
            if v is None or not math.isfinite(v):
                body.append(text(zero + 4, y + bar_h - 3, "n/a", color=MUTED))
                continue
            x = area.x(v)
            body.append(
                f'<rect x="{min(x, zero):g}" y="{y:g}" width="{abs(x - zero):g}" height="{bar_h - 2}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            )
            anchor, dx = ("start", 4) if v >= 0 else ("end", -4)
            body.append(text(x + dx, y + bar_h - 3, fmt(v), anchor, size=10))
    body.append(line(zero, area.top, zero, area.bottom, MUTED))
    for value, ref_label, color in references:
        x = area.x(value)
        body.append(
            line(x, area.top - 4, x, area.bottom, color, ' stroke-dasharray="4 3" stroke-width="1.5"')
        )
        body.append(text(x, area.top - 7, ref_label, "middle", color, size=10))
    if len(names) > 1:
        body.append(
            legend([(n, PALETTE[j % len(PALETTE)], "box") for j, n in enumerate(names)], area.left, 14)
        )
    return svg(width, height, label, body)


def xy_chart(
    label: str,
    series: dict[str, tuple[Sequence[float], Sequence[float], Sequence[str]]],
    x_fmt: Callable[[float], str],
    y_fmt: Callable[[float], str],
    x_title: str,
    y_title: str,
    width: int = 560,
    height: int = 280,
) -> str:
    """Lines with labelled markers, e.g. fill rate against stock value per policy, labelled by target."""
    xs = [float(x) for s in series.values() for x in s[0]]
    ys = [float(y) for s in series.values() for y in s[1]]
    xt, yt = (
        nice_ticks(min(xs, default=0.0), max(xs, default=1.0), 5),
        nice_ticks(min(ys, default=0.0), max(ys, default=1.0), 4),
    )
    area = Area(56, 30, width - 56 - 20, height - 30 - 44, xt[0], xt[-1], yt[0], yt[-1])
    body = [y_axis(area, yt, y_fmt)]
    for t in xt:
        body.append(line(area.x(t), area.bottom, area.x(t), area.bottom + 4, MUTED))
        body.append(text(area.x(t), area.bottom + 16, x_fmt(t), "middle", MUTED))
    body.append(text(area.left + area.width / 2, height - 6, x_title, "middle", MUTED))
    body.append(
        text(
            12,
            area.top + area.height / 2,
            y_title,
            "middle",
            MUTED,
            extra=f' transform="rotate(-90 12 {area.top + area.height / 2:g})"',
        )
    )
    for j, (points_x, points_y, labels) in enumerate(series.values()):
        color = PALETTE[j % len(PALETTE)]
        px, py = [area.x(float(v)) for v in points_x], [area.y(float(v)) for v in points_y]
        body.append(polyline(px, py, color, 1.8))
        for x, y, point_label in zip(px, py, labels, strict=True):
            body.append(f'<circle cx="{x:g}" cy="{y:g}" r="3" fill="{color}"/>')
            if point_label:
                body.append(text(x, y - 6, point_label, "middle", color, size=9))
    body.append(legend([(n, PALETTE[j % len(PALETTE)], "line") for j, n in enumerate(series)], area.left, 14))
    return svg(width, height, label, body)
