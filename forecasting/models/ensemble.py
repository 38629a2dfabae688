"""Ensembles: forecasters over other forecasters' outputs at the same cutoffs.

An ensemble picks its members (the best `k` models by the validation folds' metric, or a fixed list) and
combines them with equal weights (`mean`), the per-value `median`, or weights proportional to the inverse of
each member's validation metric (`inverse`). Nothing about the test folds reaches the choice.

How the distributions combine, and why: the backtest keeps each member's quantiles, the plan needs sample
paths whose SUMS over lead times have the right quantiles. Both are served by combining quantile functions
(Vincentization): the ensemble's quantile at each level is the combination of the members' quantiles at that
level. On paths the same combination is made between paths of equal rank by their total over the horizon, so
the quantiles of the horizon's total are exactly the combined members' quantiles of it, the daily marginals and
shorter sums close to them, and each combined path keeps its members' day-to-day shape. A mixture of the
members' paths would instead widen every interval by the spread between the members' means.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from forecasting.errors import InputError
from forecasting.models.base import Forecast, LocalForecaster
from forecasting.models.local_fit import fit_inputs
from forecasting.vocabulary.calibration_score import calibration_score
from forecasting.vocabulary.column_names import sum_quantile_level
from forecasting.vocabulary.windows import SUMS_DTYPE

log = logging.getLogger(__name__)

COMBINES = ("mean", "median", "inverse")
RANKINGS = ("metric", "window_sums")
RECORDS_PER_BLOCK = 20_000
KEYS = ["sku", "cutoff", "date"]


class Ensemble:
    """The ensemble's recipe: how members are chosen and combined; `choose` fits it on validation scores."""

    def __init__(
        self,
        combine: str = "median",
        k: int = 3,
        members: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
        name: str = "ensemble",
        include: Sequence[str] = (),
        rank_by: str = "metric",
        weights: Mapping[str, float] | None = None,
    ) -> None:
        if combine not in COMBINES:
            raise InputError(f"ensemble combine '{combine}' is unknown; use one of {', '.join(COMBINES)}.")
        if rank_by not in RANKINGS:
            raise InputError(f"ensemble rank_by '{rank_by}' is unknown; use one of {', '.join(RANKINGS)}.")
        if int(k) < 2 and not members:
            raise InputError(f"ensemble k={k} is too small: an ensemble needs at least 2 members (k >= 2).")
        self.combine = combine
        self.k = int(k)
        self.members = list(members) if members else None
        self.exclude = list(exclude)
        self.name = name
        # Members taken whatever their validation rank, the best k - len(include) others beside them: a
        # distribution of another kind (the SKU's own recent sums) that the daily metric would never rank in.
        self.include = list(include)
        # metric: the run's optimized_metric on the validation days; window_sums: the pinball loss of the validation
        # windows' sums over lead time + review (what plans order from; backtest.cumulative.window_pinball_by_model).
        self.rank_by = rank_by
        # Fixed shares of named members (combine: mean), the others splitting the rest evenly: a second
        # ensemble_recent that leans on the model, for the plan's decision to choose between per segment.
        self.weights = {str(m): float(w) for m, w in (weights or {}).items()}
        if self.weights and (combine != "mean" or min(self.weights.values()) < 0 or sum(self.weights.values()) > 1):
            raise InputError(
                f"ensemble weights {self.weights} need combine: mean and shares from 0 to 1 that add up to at most 1."
            )

    def choose(self, validation: pd.Series | None, available: Sequence[str]) -> Ensemble:
        """Members and weights from `validation` (metric per model on the validation folds, lower is better).

        Without validation folds only a fixed `members` list is allowed: picking the best on the test folds
        and then scoring on them would flatter the ensemble.
        """
        if self.members:
            # `include` holds with a fixed list too: members=[ets] on ensemble_recent still averages the bootstrap.
            members = list(dict.fromkeys([*self.include, *self.members]))
            missing = [m for m in members if m not in available]
            if missing:
                raise InputError(
                    f"ensemble '{self.name}' names models that were not run: {', '.join(missing)}; add them to "
                    f"model=[...] or change model.{self.name}.members (or .include)."
                )
        elif validation is None or validation.dropna().empty:
            raise InputError(
                f"ensemble '{self.name}' picks its best {self.k} members on validation folds and there are none; "
                "set backtest.validation_folds=1 (or more) or list model." + self.name + ".members."
            )
        else:
            missing = [m for m in self.include if m not in available]
            if missing:
                raise InputError(
                    f"ensemble '{self.name}' includes models that were not run: {', '.join(missing)}; add them to "
                    f"model=[...] or change model.{self.name}.include."
                )
            left_out = [m for m in [*self.exclude, *self.include] if m in validation.index]
            ranked = validation.drop(index=left_out).dropna()
            members = self.include + list(ranked.sort_values(kind="stable").index[: max(self.k - len(self.include), 0)])
        if len(members) < 2:
            raise InputError(f"ensemble '{self.name}' found fewer than 2 models to combine; run more models.")
        self.members_ = members
        if self.combine == "inverse" and validation is not None and set(members) <= set(validation.index):
            inv = 1.0 / validation[members].clip(lower=1e-9)
            self.weights_ = (inv / inv.sum()).to_numpy(dtype=float)
        else:
            self.weights_ = fixed_shares(members, self.weights)
        return self

    def spec(self) -> dict:
        """What a fitted ensemble is, as metrics.json records it (and explanations read it back)."""
        return {
            "combine": self.combine,
            "members": list(self.members_),
            "weights": None if self.combine == "median" else [round(float(w), 4) for w in self.weights_],
        }

    # ---- combining ------------------------------------------------------------------------------------
    def _reduce(self, stack: np.ndarray) -> np.ndarray:
        """Combine along axis 0 (members)."""
        if self.combine == "median":
            return np.median(stack, axis=0)
        return np.tensordot(self.weights_, stack, axes=1)

    def combine_table(self, bt: pd.DataFrame, value_cols: Sequence[str]) -> pd.DataFrame:
        """The ensemble's backtest rows from its members' rows (rows where every member forecast)."""
        parts = [bt[bt["model"] == m].set_index(KEYS) for m in self.members_]
        common = parts[0].index
        for p in parts[1:]:
            common = common.intersection(p.index)
        if common.empty:
            return pd.DataFrame(columns=bt.columns)
        first = parts[0].loc[common]
        stack = np.stack([p.loc[common, list(value_cols)].to_numpy(dtype=float) for p in parts])
        out = first.copy()
        out[list(value_cols)] = self._reduce(stack)
        out["model"] = self.name
        out["fallback"] = np.logical_or.reduce([p.loc[common, "fallback"].to_numpy(dtype=bool) for p in parts])
        return out.reset_index()[list(bt.columns)]

    def combine_covers(self, covers: pd.DataFrame) -> pd.DataFrame:
        """Cumulative-demand records of the ensemble: the members' sorted sample sums of each window combined
        rank by rank (as combine_forecasts combines paths), and its mean, quantiles and the actual's score taken
        from those sums, so a plan calibrated on these records is calibrated on the ensemble's own distribution."""
        if covers.empty:
            return covers
        keys = ["sku", "cutoff", "window_days", "role"]
        parts = [covers[covers["model"] == m].set_index(keys) for m in self.members_]
        common = parts[0].index
        for p in parts[1:]:
            common = common.intersection(p.index)
        out = parts[0].loc[common].copy()
        out["model"] = self.name
        if "sums" not in covers:
            values = ["mean"] + [c for c in covers.columns if c.startswith("q")]
            out[values] = self._reduce(np.stack([p.loc[common, values].to_numpy(dtype=float) for p in parts]))
            return out.reset_index()[list(covers.columns)]
        if common.empty:
            return covers.iloc[:0]
        size = min(len(r) for p in parts for r in p.loc[common, "sums"])
        quantile_columns = [c for c in covers.columns if c.startswith("q")]
        levels = [sum_quantile_level(c) for c in quantile_columns]
        sums, stats, scores = [], [], []
        # In blocks of records: the members' sums in float64 at once would take 8 x members x samples bytes per
        # record (about 900 MB for 30,000 SKUs x 6 cutoffs, 3 members of 200 samples).
        for start in range(0, len(common), RECORDS_PER_BLOCK):
            keys_block = common[start : start + RECORDS_PER_BLOCK]
            block = self._reduce(np.stack([_sample_block(p.loc[keys_block, "sums"], size) for p in parts]))
            sums.extend(block.astype(SUMS_DTYPE))
            stats.append(np.column_stack([block.mean(axis=1), *np.quantile(block, levels, axis=1)]))
            # the score from the float64 sums, as cover_record takes it before storing them as float32
            actual = out.loc[keys_block, "actual"].to_numpy(dtype=float)
            scores.extend(
                calibration_score(row, a, f"{key[0]}|{self.name}|{key[1]}")
                for row, a, key in zip(block, actual, keys_block, strict=True)
            )
        out["sums"] = sums
        out[["mean", *quantile_columns]] = np.concatenate(stats)
        out["score"] = scores
        return out.reset_index()[list(covers.columns)]

    def combine_forecasts(self, forecasts: Sequence[Forecast]) -> Forecast:
        """Members' forecasts of one SKU combined; paths matched by the rank of their horizon total."""
        paths = np.stack([f.paths[np.argsort(f.paths.sum(axis=1), kind="stable")] for f in forecasts])
        mean = self._reduce(np.stack([f.mean for f in forecasts]))
        return Forecast(mean=mean, paths=self._reduce(paths))


def fixed_shares(members: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """Each member's weight: its share in `weights`, the members not named there splitting the rest evenly
    (equal weights without any), normalised to add up to 1."""
    named = sum(weights.get(m, 0.0) for m in members)
    others = sum(m not in weights for m in members)
    out = np.array([weights.get(m, (1.0 - named) / others if others else 0.0) for m in members], dtype=float)
    return out / out.sum() if out.sum() > 0 else np.full(len(members), 1.0 / len(members))


class EnsembleForecaster(LocalForecaster):
    """A chosen ensemble as a per-SKU forecaster (for the plan and the replay): fits every member on the SKU's
    history and combines their forecasts. Global members enter as per-SKU lookups of their forecasts."""

    def __init__(self, ensemble: Ensemble, members: Mapping[str, LocalForecaster]) -> None:
        super().__init__(season_length=None)
        self.ensemble = ensemble
        self.members = dict(members)
        self.min_history = max(getattr(m, "min_history", 1) for m in self.members.values())

    def with_season(self, season_length: int) -> EnsembleForecaster:
        return self

    @property
    def covariates(self) -> tuple[str, ...]:
        """The columns any member reads: each member gets what it reads (local_fit.fit_inputs), as in the backtest."""
        return tuple(dict.fromkeys(c for m in self.members.values() for c in getattr(m, "covariates", ())))

    @property
    def reads_dates(self) -> bool:
        """Whether any member's fit takes the horizon's dates (fit_inputs passes them with covariates regardless)."""
        return any(getattr(m, "reads_dates", False) for m in self.members.values())

    def fit(
        self, y: pd.Series, covariates: pd.DataFrame | None = None, dates: pd.DatetimeIndex | None = None
    ) -> EnsembleForecaster:
        # Each member on its own trailing window and with its own inputs, as it was fitted in the backtest.
        self.fitted_ = []
        for name in self.ensemble.members_:
            member = self.members[name]
            self.fitted_.append(member.fit(member.recent(y), **fit_inputs(member, covariates, dates)))
        return self

    def predict(self, horizon: int, num_samples: int, rng: np.random.Generator) -> Forecast:
        return self.ensemble.combine_forecasts([m.predict(horizon, num_samples, rng) for m in self.fitted_])


def _sample_block(rows, size: int) -> np.ndarray:
    """Sorted sample sums as one (records x size) float64 block: a row of another length is taken at `size`
    mid-point levels (members may draw different numbers of samples)."""
    at = (np.arange(size) + 0.5) / size
    block = [np.asarray(r, dtype=float) for r in rows]
    return np.stack([r if len(r) == size else np.quantile(r, at) for r in block]).reshape(len(block), size)


def runnable_ensembles(ensembles: Mapping[str, Ensemble], validation: pd.Series | None) -> dict[str, Ensemble]:
    """The ensembles that can be built: one that picks its members on validation folds is left out, with a
    warning, where the data held none (too short): picking on the test folds would flatter it."""
    if validation is not None and not validation.dropna().empty:
        return dict(ensembles)
    left_out = [name for name, ens in ensembles.items() if not ens.members]
    if left_out:
        log.warning(
            "%s left out: it picks its members on validation folds and this data is too short for any; to run "
            "it with fixed members add 'model.%s.members=[arima,ets]' (models of the run)",
            ", ".join(left_out),
            left_out[0],
        )
    return {name: ens for name, ens in ensembles.items() if ens.members}


def add_ensembles(
    ensembles: Mapping[str, Ensemble],
    bt: pd.DataFrame,
    covers: pd.DataFrame,
    validation: pd.Series | None,
    value_cols: Sequence[str],
    window_validation: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest table and cover records with every ensemble's rows added, members chosen on `validation`, or
    on `window_validation` (the validation windows' sums, per model) for an ensemble ranked by window sums."""
    available = sorted(set(bt["model"]))
    rows, cover_rows = [bt], [covers]
    for name, ens in ensembles.items():
        ens.name = name
        by_windows = ens.rank_by == "window_sums" and window_validation is not None
        ens.choose(window_validation if by_windows else validation, [m for m in available if m not in ensembles])
        rows.append(ens.combine_table(bt, value_cols))
        if len(covers):
            cover_rows.append(ens.combine_covers(covers))
    return pd.concat(rows, ignore_index=True), pd.concat(cover_rows, ignore_index=True)
