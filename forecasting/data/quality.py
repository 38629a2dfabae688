"""The data-quality ledger: every input row is kept or dropped with one reason, and repairs are counted."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class DataQuality:
    """Counts rows in, rows kept, rows dropped per reason (first matching rule wins) and safe repairs."""

    source: str
    rows_in: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    def drop(self, frame: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        """Remove the rows under `mask`, count them under `reason`, and return the rest."""
        n = int(mask.sum())
        self.dropped[reason] = self.dropped.get(reason, 0) + n
        return frame.loc[~mask] if n else frame

    def repair(self, what: str, n: int) -> None:
        self.repairs[what] = self.repairs.get(what, 0) + int(n)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def rows_kept(self) -> int:
        return self.rows_in - self.rows_dropped

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped_by_reason": dict(self.dropped),
            "repairs": dict(self.repairs),
            **self.notes,
        }


def row_list(mask: pd.Series, limit: int = 5) -> str:
    """Row numbers as a user sees them in the file: 1-based, after the header."""
    idx = [int(i) + 1 for i in mask[mask].index[:limit]]
    more = int(mask.sum()) - len(idx)
    return ", ".join(map(str, idx)) + (f" and {more} more" if more > 0 else "")
