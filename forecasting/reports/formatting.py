"""HTML tables and the Jinja environment shared by the run report and the comparison page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from forecasting.reports.columns import Column, column

MISSING = "–"


def is_missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def metric_text(v: float) -> str:
    """Three significant decimals for small errors, fewer as they grow (MAE in the hundreds needs none)."""
    a = abs(v)
    digits = 3 if a < 10 else 2 if a < 100 else 1
    return f"{v:,.{digits}f}"


def format_value(value, kind: str) -> str:
    if is_missing(value) or (isinstance(value, str) and not value and kind != "text"):
        return MISSING
    if kind == "text":
        return str(value)
    if kind == "codes":  # "A;B" -> "A; B", so a cell of several codes wraps between them
        return "; ".join(c.strip() for c in str(value).split(";") if c.strip()) or MISSING
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    v = float(value)
    if not math.isfinite(v):
        return MISSING
    return {
        "int": lambda: f"{v:,.0f}",
        "float": lambda: f"{v:,.1f}",
        "ratio": lambda: f"{v:,.2f}",
        "metric": lambda: metric_text(v),
        "pct": lambda: f"{v * 100:.1f}%",
        "signed_pct": lambda: f"{v * 100:+.1f}%",
        "money": lambda: f"{v:,.2f}",
    }.get(kind, lambda: f"{v:g}")()


@dataclass
class Cell:
    col: str
    text: str
    raw: str | None  # the unrounded number, in a data- attribute, so a check reads exact values back
    css: str


@dataclass
class Row:
    key: str
    css: str
    cells: list[Cell]


@dataclass
class Table:
    """A DataFrame ready to render: columns described by `Column`, optional CSS class per row."""

    frame: pd.DataFrame
    columns: Sequence[Column | str]
    key: str | None = None
    row_css: Sequence[str] = field(default_factory=list)

    @property
    def cols(self) -> list[Column]:
        return [
            c if isinstance(c, Column) else column(c)
            for c in self.columns
            if (c.key if isinstance(c, Column) else c) in self.frame
        ]

    def rows(self) -> list[Row]:
        cols = self.cols
        out = []
        for i, record in enumerate(self.frame.to_dict("records")):
            cells = []
            for c in cols:
                value = record.get(c.key)
                raw = None if (not c.numeric or is_missing(value)) else repr(float(value))
                css = "num" if c.numeric else "date" if c.kind == "date" else ""
                cells.append(Cell(c.key, format_value(value, c.kind), raw, css))
            css = self.row_css[i] if i < len(self.row_css) else ""
            out.append(Row(str(record.get(self.key, "")) if self.key else "", css, cells))
        return out


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("forecasting.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    env.globals["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def safe(svg_markup: str) -> Markup:
    """Charts come from `svg` with their text escaped by matplotlib; mark them so Jinja does not escape it again."""
    return Markup(svg_markup)
