"""Synthetic daily demand with KNOWN distributions: a test bed where the right answer is computable.

Each SKU's demand on day t is `occurs_t * (1 + size_t)`: `occurs_t` ~ Bernoulli(p) and `size_t` ~ negative
binomial with mean `mu_t - 1` and shape `k`, where `mu_t = base * weekly[dow] * (1 + trend * t / 365) * yearly_t *
lift_t` (`lift_t` > 1 on promo days, which are known in advance like a promo calendar; `yearly_t = 1 + a * sin(2 pi
t / 365.25 + phase)`, a yearly season drawn per SKU, is 1 unless `yearly` is set). The four Syntetos-Boylan classes
come from the two knobs: `p` sets the inter-demand interval (ADI = 1/p; intermittent and lumpy SKUs sell on
fewer than 1/1.32 of days) and `k` the size variability (CV^2 of sizes ~ 1/k; erratic and lumpy above 0.49).

Because the process is known, `true_quantiles` gives the exact (Monte Carlo) distribution of demand summed over
any future window, which is what an oracle inventory policy needs: calibration errors show as numbers.

`python -m forecasting.datasets.synthetic --skus 1000 --days 730 --out demand.parquet` writes a demand table that
`python run.py data=daily_demand data.path=demand.parquet` reads (columns sku, date, demand, price, promo).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CLASSES = ("smooth", "erratic", "intermittent", "lumpy")
# (occurrence probability range, negative-binomial shape range) per class: p > 1/1.32 = 0.76 is "frequent",
# shape k > ~2.5 keeps the CV^2 of sizes under 0.49.
CLASS_KNOBS = {
    "smooth": ((0.85, 1.0), (4.0, 20.0)),
    "erratic": ((0.85, 1.0), (0.4, 1.2)),
    "intermittent": ((0.08, 0.5), (4.0, 20.0)),
    "lumpy": ((0.08, 0.5), (0.4, 1.2)),
}
WEEKLY_SHAPES = np.array(
    [
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # flat
        [1.1, 1.0, 1.0, 1.05, 1.25, 0.9, 0.7],  # retail week
        [0.8, 0.9, 1.0, 1.0, 1.1, 1.4, 0.8],  # weekend peak
    ]
)


@dataclass
class SyntheticDemand:
    """The demand table and, per SKU, the parameters that generated it."""

    table: pd.DataFrame  # sku, date, demand, price, promo
    truth: pd.DataFrame  # per SKU: true_class, p, k, base, trend, promo_lift, weekly (profile index)
    start: pd.Timestamp

    def mean_path(self, sku: str, dates: pd.DatetimeIndex, promo: np.ndarray | None = None) -> np.ndarray:
        """The expected demand of `sku` on `dates` (promo days as given, none by default)."""
        row = self.truth.loc[sku]
        mu = _size_mean(row, dates, self.start, promo)
        return row["p"] * mu

    def true_quantiles(
        self,
        sku: str,
        dates: pd.DatetimeIndex,
        quantiles: Sequence[float],
        promo: np.ndarray | None = None,
        draws: int = 4000,
        seed: int = 0,
    ) -> np.ndarray:
        """Quantiles of demand summed over `dates`, by simulating the known process `draws` times."""
        return np.quantile(self.sample_paths(sku, dates, promo, draws, seed).sum(axis=1), quantiles)

    def sample_paths(
        self, sku: str, dates: pd.DatetimeIndex, promo: np.ndarray | None = None, draws: int = 4000, seed: int = 0
    ) -> np.ndarray:
        """`draws` paths of daily demand on `dates` from the known process, shape (draws, len(dates))."""
        row = self.truth.loc[sku]
        mu = _size_mean(row, dates, self.start, promo)
        return _simulate(np.random.default_rng(seed), row["p"], row["k"], np.broadcast_to(mu, (draws, len(mu))))


def _size_mean(row: pd.Series, dates: pd.DatetimeIndex, start: pd.Timestamp, promo: np.ndarray | None) -> np.ndarray:
    t = (pd.DatetimeIndex(dates) - start).days.to_numpy()
    weekly = WEEKLY_SHAPES[int(row["weekly"])][pd.DatetimeIndex(dates).dayofweek]
    lift = np.where(promo.astype(bool), row["promo_lift"], 1.0) if promo is not None else 1.0
    trend = np.maximum(1.0 + row["trend"] * t / 365.0, 0.05)  # as the generator floors it
    season = _yearly(t, row.get("yearly_amp", 0.0), row.get("yearly_phase", 0.0))
    return np.maximum(row["base"] * weekly * trend * season * lift, 1.0)


def _yearly(t: np.ndarray, amplitude, phase) -> np.ndarray:
    """The yearly season's factor on day `t` (days since the start): 1 + amplitude * sin(2 pi t / 365.25 + phase)."""
    return 1.0 + np.asarray(amplitude) * np.sin(2.0 * np.pi * np.asarray(t) / 365.25 + np.asarray(phase))


def _simulate(rng: np.random.Generator, p, k, mu: np.ndarray) -> np.ndarray:
    """Draws of `occurs * (1 + NB(mean mu - 1, shape k))`, broadcast over `mu`'s shape."""
    extra = np.maximum(mu - 1.0, 1e-9)
    k = np.broadcast_to(np.asarray(k, dtype=float), mu.shape)
    sizes = 1.0 + rng.negative_binomial(k, k / (k + extra))
    occurs = rng.random(mu.shape) < np.broadcast_to(np.asarray(p, dtype=float), mu.shape)
    return np.where(occurs, sizes, 0.0)


def synthetic_demand(
    n_skus: int = 200,
    days: int = 730,
    seed: int = 0,
    start: str = "2023-01-02",
    classes: Sequence[str] = CLASSES,
    trend: bool = True,
    promo: bool = True,
    yearly: float = 0.0,
    promo_share: float = 0.05,
) -> SyntheticDemand:
    """`n_skus` SKUs (classes in equal shares, in turn) over `days` consecutive calendar days, all trading.

    `promo_share`: the largest share of days a SKU is on promotion (each SKU's share drawn uniformly below it).
    `yearly` > 0 adds a yearly season: per SKU an amplitude drawn uniformly in [yearly / 2, yearly] (at most 0.9)
    and a random phase, from a generator of its own, so every other draw (and the default table) is unchanged.
    """
    if not 0.0 <= yearly <= 0.9:
        raise ValueError(f"yearly={yearly}: give a season amplitude between 0 (none) and 0.9")
    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise ValueError(f"unknown demand class(es) {sorted(unknown)}; use {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    true_class = np.array([classes[i % len(classes)] for i in range(n_skus)])
    p_lo, p_hi = np.array([CLASS_KNOBS[c][0] for c in true_class]).T
    k_lo, k_hi = np.array([CLASS_KNOBS[c][1] for c in true_class]).T
    width = len(str(n_skus - 1))
    truth = pd.DataFrame(
        {
            "true_class": true_class,
            "p": rng.uniform(p_lo, p_hi),
            "k": np.exp(rng.uniform(np.log(k_lo), np.log(k_hi))),
            "base": np.exp(rng.normal(np.log(6.0), 0.9, n_skus)) + 1.0,
            "trend": rng.normal(0.0, 0.15, n_skus) if trend else np.zeros(n_skus),
            "promo_lift": rng.uniform(1.8, 3.0, n_skus) if promo else np.ones(n_skus),
            "promo_share": rng.uniform(0.0, promo_share, n_skus) if promo else np.zeros(n_skus),
            "weekly": rng.integers(0, len(WEEKLY_SHAPES), n_skus),
            "price": np.round(np.exp(rng.normal(np.log(8.0), 0.7, n_skus)), 2),
        },
        index=pd.Index([f"SYN{i:0{width}d}" for i in range(n_skus)], name="sku"),
    )
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days, dtype=float)
    weekly = WEEKLY_SHAPES[truth["weekly"].to_numpy()][:, dates.dayofweek]  # (skus, days)
    trend_f = np.maximum(1.0 + truth["trend"].to_numpy()[:, None] * t[None, :] / 365.0, 0.05)
    if yearly > 0:
        season_rng = np.random.default_rng([seed, 365])
        truth["yearly_amp"] = season_rng.uniform(yearly / 2, yearly, n_skus)
        truth["yearly_phase"] = season_rng.uniform(0.0, 2.0 * np.pi, n_skus)
        trend_f = trend_f * _yearly(
            t[None, :], truth["yearly_amp"].to_numpy()[:, None], truth["yearly_phase"].to_numpy()[:, None]
        )
    promo_days = rng.random((n_skus, days)) < truth["promo_share"].to_numpy()[:, None]
    lift = np.where(promo_days, truth["promo_lift"].to_numpy()[:, None], 1.0)
    mu = np.maximum(truth["base"].to_numpy()[:, None] * weekly * trend_f * lift, 1.0)
    demand = _simulate(rng, truth["p"].to_numpy()[:, None], truth["k"].to_numpy()[:, None], mu)
    price = truth["price"].to_numpy()[:, None] * np.where(promo_days, 0.8, 1.0)  # promos are discounts
    table = pd.DataFrame(
        {
            "sku": pd.Categorical.from_codes(np.repeat(np.arange(n_skus), days), categories=truth.index),
            "date": np.tile(dates.to_numpy(), n_skus),
            "demand": demand.astype("float32").ravel(),
            "price": price.astype("float32").ravel(),
            "promo": promo_days.astype("int8").ravel(),
        }
    )
    return SyntheticDemand(table=table, truth=truth, start=pd.Timestamp(start))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--yearly", type=float, default=0.0, help="yearly season amplitude (0: none, up to 0.9)")
    parser.add_argument("--out", required=True, help="a .parquet or .csv path")
    parser.add_argument("--truth", help="also write the per-SKU parameters here (CSV)")
    args = parser.parse_args(argv)
    data = synthetic_demand(args.skus, args.days, args.seed, yearly=args.yearly)
    if args.out.endswith(".csv"):
        data.table.to_csv(args.out, index=False)
    else:
        data.table.to_parquet(args.out, index=False)
    if args.truth:
        data.truth.to_csv(args.truth)
    print(f"{args.out}: {len(data.table):,} rows, {args.skus:,} SKUs x {args.days} days")


if __name__ == "__main__":
    main()
