"""Text columns of backtest rows (SKU, model, role) held as codes while rows travel and are joined.

A row's text as a Python string costs about 60 bytes, and every worker result unpickled in the parent made a
new string per row (numpy pickles an object array element by element): three such columns were two thirds of
the backtest table's memory. As categorical codes a result pickles as a few bytes per row, and the joined
table's column points every row at one string per distinct value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: the backtest table's text columns
TEXT = ("sku", "model", "role")


def encode_text(columns: dict) -> dict:
    """The text columns of a table held as a dict of arrays, as pd.Categorical (in place; returns it)."""
    for key in TEXT:
        if key in columns and not isinstance(columns[key], pd.Categorical):
            codes, uniques = pd.factorize(columns[key])
            columns[key] = pd.Categorical.from_codes(codes, uniques)
    return columns


def join_codes(parts: Sequence[pd.Categorical | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The parts' values in order as codes into their sorted distinct values (codes, values): code order is
    the values' order, so the codes sort rows as the strings would."""
    parts = [p if isinstance(p, pd.Categorical) else pd.Categorical(p) for p in parts]
    categories = pd.Index(np.concatenate([p.categories.to_numpy(dtype=object) for p in parts]))
    uniques = categories.unique().sort_values()
    # Each part's codes shifted to its categories' place in `categories`, then looked up among the uniques.
    offsets = np.repeat(np.cumsum([0] + [len(p.categories) for p in parts[:-1]]), [len(p) for p in parts])
    where = uniques.get_indexer(categories)
    return where[np.concatenate([p.codes for p in parts]) + offsets], uniques.to_numpy(dtype=object)


def join_text(parts: Sequence[pd.Categorical | np.ndarray]) -> np.ndarray:
    """One object array of the parts' values in order, one shared string object per distinct value."""
    codes, values = join_codes(parts)
    return values[codes]


def join_column(arrays: Sequence, key: str) -> np.ndarray:
    """One column from its parts: text columns by `join_text`, the others concatenated."""
    return join_text(arrays) if key in TEXT else np.concatenate(arrays)


def join_columns(parts: Sequence[dict]) -> dict[str, np.ndarray]:
    """Column-wise concatenation of tables held as dicts of arrays (all with the same keys)."""
    return {key: join_column([p[key] for p in parts], key) for key in parts[0]} if parts else {}
