"""Report charts drawn with matplotlib and inlined as SVG, so a report opens offline and by e-mail.

Text stays text (`svg.fonttype: none`): the file stays small, the page's own font draws it, and matplotlib
escapes it as XML. Matplotlib lays labels and legends out with its bundled DejaVu Sans, as wide as or wider
than a browser's sans-serif, so nothing measured there overflows on the page. Sizes are in points at 72 dpi,
so one point is one unit of the chart's viewBox, as the page's CSS scales it. matplotlib is imported where a
chart is drawn, not with the package: it takes most of a second, and most imports of the package draw nothing.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

PALETTE = ("#1f5fa8", "#e08a2c", "#2e8b57", "#8e44ad", "#c0392b", "#5d6d7e")
INK, GRID, MUTED = "#1f2933", "#e4e7eb", "#6b7280"
NICE_STEPS = (1, 2, 2.5, 5, 10)  # tick steps: 1, 2, 2.5 or 5 x 10^k
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "forecasting.reports",  # the random default would make every report differ byte-wise
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: measured the same everywhere, no font warnings
    "font.size": 11,
    "text.color": INK,
    "axes.labelcolor": MUTED,
    "axes.axisbelow": True,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.frameon": False,
    "legend.fontsize": 11,
    "legend.handlelength": 1.5,
    "legend.columnspacing": 1.2,
    "legend.handletextpad": 0.5,
    "legend.borderaxespad": 0.2,
}
# The metadata block names matplotlib's URL and the DCMI vocabulary: a report holds no URL at all.
NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
FONT_FAMILY = re.compile(r"font-family:[^;\"]*;?\s*")  # the page's font, inherited, draws the text
# Coordinates to 0.1 pt, as sharp on screen and a third smaller; styles (opacities) keep every digit.
GEOMETRY = re.compile(r'(\b(?:d|x|y|width|height|viewBox)=")([^"]*)')
DECIMALS = re.compile(r"(\d\.\d)\d+")


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


def _locator(bins: int):
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=bins, steps=list(NICE_STEPS))


def _span(lo: float, hi: float, bins: int) -> tuple[float, float]:
    """The axis range from the first to the last round tick covering [lo, hi], so the axis ends on a label."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    ticks = _locator(bins).tick_values(lo, hi)
    return float(ticks[0]), float(ticks[-1])


def _formatter(fmt: Callable[[float], str]):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: fmt(float(v)))


def _plain_axes(ax, grid: str) -> None:
    """No frame: light grid lines across the plot, muted labels, as the rest of the page."""
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.grid(axis=grid, color=GRID, linewidth=1)
    ax.tick_params(length=0)


def _render(
    width: float,
    height: float,
    label: str,
    draw: Callable,
    margins: tuple[float, float, float, float] | None = None,
) -> str:
    """Draw on a width x height figure (points = viewBox units) and return the inline <svg class="chart">.

    The layout makes room for the labels and legend (matplotlib measures them), except where `margins` (left,
    top, right, bottom) are given: charts whose labels are short numbers, or measured beforehand, skip that
    work, most of the time a chart takes.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width / 72, height / 72), dpi=72, layout=None if margins else "constrained")
        if margins:
            left, top, right, bottom = margins
            fig.subplots_adjust(
                left=left / width, top=1 - top / height, right=1 - right / width, bottom=bottom / height
            )
        else:
            fig.get_layout_engine().set(w_pad=4 / 72, h_pad=4 / 72)
        draw(fig)
        # SKU descriptions and model names are data: a "$" in one must not start mathtext.
        for t in fig.findobj(Text):
            t.set_parse_math(False)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=NO_METADATA)
    return inline_svg(buf.getvalue(), label)


def _tag(tag: str, prefix: str, referenced: set[str]) -> str:
    def rename(m: re.Match) -> str:
        return f' id="{prefix}{m.group(1)}"' if m.group(1) in referenced else ""

    tag = re.sub(r' id="([^"]*)"', rename, tag)
    tag = re.sub(r'xlink:href="#([^"]*)"', lambda m: f'href="#{prefix}{m.group(1)}"', tag)
    tag = re.sub(r"url\(#([^)]*)\)", lambda m: f"url(#{prefix}{m.group(1)})", tag)
    tag = FONT_FAMILY.sub("", tag)
    tag = re.sub(r' transform="rotate\(-0 [^"]*\)"', "", tag)
    tag = GEOMETRY.sub(lambda m: m.group(1) + DECIMALS.sub(r"\1", m.group(2)), tag)
    return re.sub(r"\s+", " ", tag)


def _drop_bare_groups(body: str) -> str:
    """Unwrap <g> elements left with no attribute (matplotlib's ids, dropped): a third of the markup."""
    out, kept = [], []
    for part in re.split(r"(<g/>|<g>|<g\s[^>]*>|</g>)", body):
        if part in ("<g/>", "<g>"):
            if part == "<g>":
                kept.append(False)
            continue
        if part == "</g>":
            if kept.pop():
                out.append(part)
            continue
        if part.startswith("<g "):
            kept.append(True)
        out.append(part)
    return "".join(out)


def inline_svg(document: str, label: str) -> str:
    """Matplotlib's SVG file as an element of an HTML page.

    Dropped: the XML prolog, DTD and namespaces (HTML needs none, and they are URLs), the metadata, and the
    <style> matplotlib puts in <defs> (inline, it would apply to the whole page; its two stroke settings move
    to the <svg> element, where they inherit). Ids are kept only where referenced, prefixed by a digest of the
    chart, so two charts on a page never share one. Only tags are rewritten: text between them, already
    escaped by matplotlib, passes as it is.
    """
    body = document[document.index("<svg") :]
    opening, body = body[: body.index(">") + 1], body[body.index(">") + 1 :]
    view_box = DECIMALS.sub(r"\1", re.search(r'viewBox="([^"]*)"', opening).group(1))
    body = re.sub(r"<metadata>.*?</metadata>|<style[^>]*>.*?</style>", "", body, flags=re.S)
    body = body[: body.rindex("</svg>")]
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]*)', body))
    prefix = "c" + hashlib.sha256(body.encode()).hexdigest()[:8]
    body = re.sub(r"<[^>]+>", lambda m: _tag(m.group(0), prefix, referenced), body)
    body = _drop_bare_groups(re.sub(r">\s+<", "><", body).replace("<defs></defs>", "").strip())
    return (
        f'<svg class="chart" viewBox="{view_box}" role="img" aria-label="{escape(label)}" '
        f'stroke-linejoin="round" stroke-linecap="butt"><title>{escape(label)}</title>{body}</svg>'
    )


def _top_legend(fig, handles: list) -> None:
    """One row of swatches above the plot, from its left edge."""
    if fig.get_layout_engine() is None:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(fig.subplotpars.left, 1), ncols=len(handles))
    else:
        fig.legend(handles=handles, loc="outside upper left", ncols=len(handles))


@dataclass
class Window:
    """One forecast from one cutoff: its dates, mean and band."""

    dates: pd.DatetimeIndex
    mean: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None


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
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    dates = [pd.DatetimeIndex(actual_dates), *[pd.DatetimeIndex(w.dates) for w in windows], pd.DatetimeIndex(cutoffs)]
    every_date = dates[0].append(dates[1:])
    highs = [np.nanmax(actual) if len(actual) else 0.0]
    for w in windows:
        highs.append(np.nanmax(w.hi if w.hi is not None else w.mean))
        highs.append(np.nanmax(w.mean))
    ymax = max(float(np.nanmax(highs)), 1.0)

    def draw(fig) -> None:
        ax = fig.add_subplot()
        _plain_axes(ax, "y")
        for w in windows:
            if w.lo is not None and w.hi is not None:
                ax.fill_between(w.dates, w.lo, w.hi, color=PALETTE[0], alpha=0.18, linewidth=0)
            ax.plot(w.dates, w.mean, color=PALETTE[0], linewidth=1.6)
        for c in cutoffs:
            ax.axvline(pd.Timestamp(c), color=MUTED, linewidth=1, linestyle=(0, (3, 3)))
        if len(actual_dates):
            ax.plot(pd.DatetimeIndex(actual_dates), actual, color=INK, linewidth=1.2)
        if len(every_date):
            ax.set_xlim(every_date.min(), every_date.max())
        ax.set_ylim(*_span(0.0, ymax, 4))
        ax.yaxis.set_major_locator(_locator(4))
        ax.yaxis.set_major_formatter(_formatter(short_number))
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
        ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
        ax.tick_params(axis="x", length=4)
        _top_legend(
            fig,
            [
                Line2D([], [], color=INK, linewidth=2, label="Actual"),
                Line2D([], [], color=PALETTE[0], linewidth=2, label="Forecast mean"),
                Patch(facecolor=PALETTE[0], alpha=0.25, label=band_label),
                Line2D([], [], color=MUTED, linewidth=1, linestyle=(0, (3, 3)), label="Cutoff"),
            ],
        )

    return _render(width, height, label, draw, margins=(48, 30, 12, 26))  # y labels: short numbers


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
    from matplotlib.patches import Patch

    names = list(series)
    bar_h, gap = 13, 10  # points; the y axis counts points too, so the height follows the number of bars
    group_h = len(names) * bar_h + gap
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    refs = [r[0] for r in references]
    plot_height = max(len(categories), 1) * group_h
    lo, hi = min([0.0, *values, *refs]), max([0.0, *values, *refs])
    pad = (hi - lo) * 0.18 or 1.0  # room for the value labels at the bar ends
    upper = hi + (pad if hi > 0 else 0)
    if ceiling is not None:
        upper = max(min(upper, ceiling), hi)

    def draw(fig) -> None:
        ax = fig.add_subplot()
        _plain_axes(ax, "x")
        ax.set_xlim(*_span(lo - (pad if lo < 0 else 0), upper, 5))
        ax.xaxis.set_major_locator(_locator(5))
        ax.xaxis.set_major_formatter(_formatter(fmt))
        ax.set_ylim(plot_height, 0)
        ax.set_yticks([i * group_h + group_h / 2 for i in range(len(categories))], [str(c) for c in categories])
        ax.tick_params(axis="y", labelcolor=INK)
        for j, name in enumerate(names):
            color = PALETTE[j % len(PALETTE)]
            for i, v in enumerate(series[name]):
                y = i * group_h + gap / 2 + j * bar_h
                mid = y + (bar_h - 2) / 2
                if v is None or not math.isfinite(v):
                    ax.annotate("n/a", (0, mid), xytext=(4, 0), textcoords="offset points", va="center", color=MUTED)
                    continue
                ax.barh(y, v, height=bar_h - 2, align="edge", color=color)
                ax.annotate(
                    fmt(v),
                    (v, mid),
                    xytext=(4 if v >= 0 else -4, 0),
                    textcoords="offset points",
                    ha="left" if v >= 0 else "right",
                    va="center",
                    fontsize=10,
                    annotation_clip=False,
                )
        ax.axvline(0.0, color=MUTED, linewidth=1)
        for value, ref_label, color in references:
            ax.axvline(value, color=color, linewidth=1.5, linestyle=(0, (4, 3)), clip_on=False)
            ax.annotate(
                ref_label,
                (value, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=10,
                color=color,
            )
        if len(names) > 1:
            _top_legend(fig, [Patch(color=PALETTE[j % len(PALETTE)], label=n) for j, n in enumerate(names)])

    # Margins from the labels' measured widths, not a layout engine: constrained layout drew each bar chart
    # twice (a third of a report's chart time) to find what one measurement gives.
    left = min(max([_text_width(str(c), 11) for c in categories] + [0.0]) + 14, width / 2)
    top = (22 if len(names) > 1 else 4) + (16 if len(references) else 0)
    # Right: where a ceiling caps the axis, a bar can end on it and its value label runs past it.
    right = 14 if ceiling is None else 8 + max([_text_width(fmt(v), 10) for v in values if v >= 0] + [6.0])
    margins = (left, top, right, 24)  # bottom: the x tick labels
    return _render(width, plot_height + top + 24, label, draw, margins=margins)


def _text_width(text: str, size: float) -> float:
    """The width in points of `text` in the charts' font (DejaVu Sans) at `size` points."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(family=STYLE["font.sans-serif"][0], size=size)
    return float(text_to_path.get_text_width_height_descent(text, font, ismath=False)[0])


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
    from matplotlib.lines import Line2D

    xs = [float(x) for s in series.values() for x in s[0]]
    ys = [float(y) for s in series.values() for y in s[1]]

    def draw(fig) -> None:
        ax = fig.add_subplot()
        _plain_axes(ax, "y")
        ax.set_xlim(*_span(min(xs, default=0.0), max(xs, default=1.0), 5))
        ax.set_ylim(*_span(min(ys, default=0.0), max(ys, default=1.0), 4))
        ax.xaxis.set_major_locator(_locator(5))
        ax.yaxis.set_major_locator(_locator(4))
        ax.xaxis.set_major_formatter(_formatter(x_fmt))
        ax.yaxis.set_major_formatter(_formatter(y_fmt))
        ax.tick_params(axis="x", length=4)
        ax.set_xlabel(x_title)
        ax.set_ylabel(y_title)
        for j, (points_x, points_y, labels) in enumerate(series.values()):
            color = PALETTE[j % len(PALETTE)]
            px, py = [float(v) for v in points_x], [float(v) for v in points_y]
            ax.plot(px, py, color=color, linewidth=1.8, marker="o", markersize=6, clip_on=False)
            for x, y, point_label in zip(px, py, labels, strict=True):
                if point_label:
                    ax.annotate(
                        point_label,
                        (x, y),
                        xytext=(0, 5),
                        textcoords="offset points",
                        ha="center",
                        fontsize=9,
                        color=color,
                    )
        _top_legend(
            fig, [Line2D([], [], color=PALETTE[j % len(PALETTE)], linewidth=2, label=n) for j, n in enumerate(series)]
        )

    return _render(width, height, label, draw)
