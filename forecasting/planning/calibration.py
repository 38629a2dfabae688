"""Recalibration of the planning window's demand distribution at every service level (quantile recalibration).

From the backtest, each (SKU, cutoff) window gives a `score`: where the actual demand over the planning window
fell in the forecast distribution of that sum (its PIT in [0, 1], or actual / the largest sample sum when it
exceeded them all, 1 + the excess in units of the sample's upper spread; see backtest.cumulative). A calibrated
forecast has uniform PITs. The empirical quantile function of the scores, z(tau), says which level of the
forecast distribution is really its tau quantile, so the recalibrated tau quantile is the forecast's own
quantile at level min(z(tau), 1), extended past the largest sample by (z - 1) upper spreads where z > 1
(Kuleshov et al. 2018, with a tail beyond the samples). Windows weigh by their forecast volume: a fill rate
counts units, so the SKUs that sell most must be the ones calibrated best. It holds at every target of the service
curve at once, not only the one a single factor was fitted at, and it keeps each SKU's own scale and shape:
the forecast quantile it maps is the SKU's. Before that, each SKU's forecast is rescaled by its own volume
ratio (actual / forecast over its windows) shrunk toward its segment's, so a persistent bias is corrected on
the SKU that has it. The score quantiles come per model and segment (ABC x demand class), taken from the
model's windows of all segments where a segment has too few.

Recalibration is not always needed: a segment whose forecasts already cover their windows gains only noise
from it. So each model and segment keeps, among the forecast as it is, the per-SKU volume scale alone, quantile
recalibration alone, and both, the sharpest (lowest pinball loss of the window sums at levels 0.8-0.98) of the
methods whose quantiles cover their windows best at those levels (within COVERAGE_SLACK of the best; a segment
with fewer than `min_windows` windows is judged on the model's windows of all segments), both out
of sample across cutoffs (each cutoff's windows judged by a correction fitted on the other cutoffs). Coverage
comes first: pinball loss alone preferred narrow forecasts that covered 82% of the windows at their 95%
quantile, and their plans missed a 95% fill target by 10 points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.vocabulary.calibration_score import calibration_score

# Score quantiles kept per model and segment: the calibrated sample of a window's demand has this many values.
GRID = 200
# A score above this (1 upper spread past the largest sample sum) is capped: one freak window must not set the stock.
MAX_SCORE = 2.0
REPORT_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
# A SKU's own volume ratio counts as if it had this many windows more of its segment's (shrinkage).
PRIOR_WINDOWS = 3
SCALE_BOUNDS = (0.25, 4.0)
# The least spread of the SKUs' true volume ratios around their segment's (a 5% standard deviation): where the ratios
# vary no more than their noise, they are still not taken to be all the same.
MIN_BETWEEN = 0.05**2
# The levels the methods are compared at: the upper tail, which sets what a fill-rate or service target loses.
CV_LEVELS = np.array([0.8, 0.9, 0.95, 0.98])
METHODS = ("forecast", "scale", "quantiles", "recalibrated")
# Methods whose coverage error is within this of the best one's count as calibrated (about one standard error of
# a coverage share at 0.95 over 100 windows); the sharpest of them wins.
COVERAGE_SLACK = 0.02


@dataclass(frozen=True)
class Calibration:
    """One SKU's correction: its forecast scaled by `scale`, then recalibrated by the score quantiles `z`.
    `prior`: the segment's volume ratio the SKU's own was shrunk toward (None where the method keeps the
    forecast's volume), and `between` the variance of the SKUs' true ratios it was shrunk with (between_variance),
    so that the scale can be taken again without some of its windows (held_out)."""

    scale: float
    z: np.ndarray
    prior: float | None = None
    between: float = float("inf")


def levels(n: int = GRID) -> np.ndarray:
    """The mid-point levels (k + 0.5) / n at which a calibrated sample is taken."""
    return (np.arange(n) + 0.5) / n


def score_quantiles(scores: np.ndarray, weights: np.ndarray | None = None, at: np.ndarray | None = None) -> np.ndarray:
    """z at the levels `at` (default: the grid): weighted empirical (inverted-CDF) quantiles of the scores, capped."""
    at = levels() if at is None else np.atleast_1d(at)
    scores = np.minimum(np.asarray(scores, dtype=float), MAX_SCORE)
    weights = np.ones(len(scores)) if weights is None else np.clip(np.asarray(weights, dtype=float), 0, None)
    if len(scores) == 0 or weights.sum() <= 0:
        return at  # no evidence: the forecast as it is
    order = np.argsort(scores, kind="stable")
    share = np.cumsum(weights[order]) / weights.sum()
    return scores[order][np.minimum(np.searchsorted(share, at - 1e-12), len(scores) - 1)]


def recalibrated(sums: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """A sample of the window's demand: the forecast's sums times the SKU's scale, taken at the calibrated levels
    (its quantile at min(z, 1), plus (z - 1) upper spreads past the largest). None leaves the sample as it is."""
    sums = np.asarray(sums, dtype=float)
    if calibration is None:
        return sums
    sums, z = calibration.scale * sums, calibration.z
    top, median = sums.max(), np.median(sums)
    spread = top - median if top > median else max(top, 1.0)
    return np.quantile(sums, np.minimum(z, 1.0)) + np.maximum(z - 1.0, 0.0) * spread


def running_bias(forecast: np.ndarray, actual: np.ndarray, overlap: float = 1.0) -> float:
    """The factor a SKU's calibrated forecast is multiplied by once windows it forecast have ended: the SKU's
    actual / forecast volume over those windows, shrunk toward 1 (the calibration as fitted) by PRIOR_WINDOWS.

    The replay's stand-in for what the nightly job learns by backtesting and recalibrating on windows up to its
    own date: the windows of the plans it made have ended, and the SKU sold more (or less) than they said. A
    level that drifts after the decision's windows (a seasonal ramp, a new listing taking off) is corrected
    within a few reviews instead of never; where there is no drift the ratios hover around 1 and the shrinkage
    keeps the factor near it. `overlap`: windows per independent one (a 21-day window reviewed weekly overlaps
    its neighbours: 3; counting each as independent learnt faster and cost 3-4 points of the stock saved
    against the empirical policy on the bundled and intermittent panels: noise)."""
    forecast, actual = np.asarray(forecast, dtype=float), np.asarray(actual, dtype=float)
    total = forecast.sum()
    if not len(forecast) or total <= 0:
        return 1.0
    n = len(forecast) / max(float(overlap), 1.0)
    w = n / (n + PRIOR_WINDOWS)
    return float(np.clip(w * actual.sum() / total + (1 - w), *SCALE_BOUNDS))


def calibrate(
    covers: pd.DataFrame, segments: pd.DataFrame, min_windows: int = 30, methods=METHODS
) -> tuple[pd.DataFrame, dict[str, Calibration]]:
    """Each SKU's Calibration and the table per model and segment (calibrate_with_losses)."""
    table, out, _ = calibrate_with_losses(covers, segments, min_windows, methods)
    return table, out


def calibrate_with_losses(
    covers: pd.DataFrame, segments: pd.DataFrame, min_windows: int = 30, methods=METHODS
) -> tuple[pd.DataFrame, dict[str, Calibration], pd.DataFrame]:
    """Each SKU's Calibration, and a table per model and segment: windows scored, whether the model's windows of
    all segments stood in, the segment's volume ratio (actual / forecast), and the (volume-weighted) coverage of
    the forecast's own quantiles (`before_p95`, ...) and of the recalibrated ones (`after_p95`, ...).

    Two steps. A SKU's forecast is first rescaled by its ratio of actual to forecast volume over its windows,
    shrunk toward its segment's ratio (a SKU has a few windows: each is one observation of its bias), so a
    persistent under- or over-forecast is corrected where it happens rather than spread over the whole segment
    as extra width. The actuals are then scored again against the rescaled forecasts, and those scores' quantiles
    per model and segment recalibrate the shape at every level.

    Third: the out-of-sample loss of the chosen method on each window a segment was judged on (model, segment,
    sku, cutoff, loss; a pooled segment's are the model's windows of all segments), for paired comparisons.
    """
    df = covers.merge(segments[["sku", "segment"]], on="sku", how="left")
    out: dict[str, Calibration] = {}
    rows, judged_losses = [], []
    for model, g in df.groupby("model"):
        g = g.assign(sum_var=sum_variance(g))
        between = between_variance(g)
        scales = sku_scales(g, between=between)
        loo_scale = sku_scales(g, leave_out=True, between=between).to_numpy()
        g = g.assign(raw_score=g["score"], score=rescore(g, loo_scale), loo_scale=loo_scale)
        ratios = segment_ratios(g)  # the priors the SKUs' scales were shrunk toward (held_out shrinks toward them)
        for segment, s in g.groupby("segment"):
            source = s if len(s) >= min_windows else g
            # A segment too small to fit its own correction is judged on the windows it borrows from, too.
            judged = s if len(s) >= min_windows else source
            per_window = window_losses(judged, source)
            loss = {m: float(per_window[m].mean()) if len(per_window) else 0.0 for m in METHODS}
            miss = {m: coverage_error(judged, source, m) for m in methods}
            # Calibrated first (a target is only met on a calibrated distribution), then the sharpest.
            near = [m for m in methods if miss[m] <= min(miss.values()) + COVERAGE_SLACK]
            method = min(near, key=lambda m: (loss[m], METHODS.index(m)))
            scores = source["raw_score" if method == "quantiles" else "score"].to_numpy()
            z = score_quantiles(scores, _weights(source)) if method in ("quantiles", "recalibrated") else levels()
            judged_losses.append(
                judged[["sku", "cutoff"]].assign(model=model, segment=segment, loss=per_window[method].to_numpy())
            )
            scaled = method in ("scale", "recalibrated")
            prior = float(ratios.get(segment, 1.0)) if scaled else None
            for sku in s["sku"].unique():
                out[sku] = Calibration(float(scales[sku]) if scaled else 1.0, z, prior, between)
            row = {
                "model": model,
                "segment": segment,
                "windows": len(s),
                "pooled": len(s) < min_windows,
                "volume_ratio": float(s["actual"].sum() / s["mean"].sum()) if s["mean"].sum() > 0 else np.nan,
                "method": method,
                **{f"pinball_{m}": loss[m] for m in METHODS},
                **{f"coverage_error_{m}": miss.get(m, np.nan) for m in METHODS},
            }
            for q in REPORT_LEVELS:
                row[f"before_p{q * 100:g}"] = float(np.average(s["raw_score"] <= q, weights=_weights(s)))
                row[f"after_p{q * 100:g}"] = chosen_coverage(s, source, q, method)
            rows.append(row)
    losses = pd.concat(judged_losses, ignore_index=True) if judged_losses else pd.DataFrame()
    return pd.DataFrame(rows), out, losses


def window_losses(windows: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """Per window of `windows` (same index) and method: the pinball loss (units) over CV_LEVELS of the method's
    quantiles of the window sum, out of sample: the scale from the SKU's other windows, the score quantiles from
    the other cutoffs of `source` (in-sample when there is one cutoff)."""
    out = pd.DataFrame(0.0, index=windows.index, columns=list(METHODS))
    for cutoff, w in windows.groupby("cutoff"):
        other = source[source["cutoff"] != cutoff]
        fit = other if len(other) else source
        z = score_quantiles(fit["score"].to_numpy(), _weights(fit), at=CV_LEVELS)
        z_raw = score_quantiles(fit["raw_score"].to_numpy(), _weights(fit), at=CV_LEVELS)
        rows = []
        for r in w.itertuples(index=False):
            sums = np.asarray(r.sums, dtype=float)  # stored as float32; the arithmetic stays in float64
            raw = np.quantile(sums, CV_LEVELS)
            rows.append(
                (
                    _pinball(raw, r.actual),
                    _pinball(raw * r.loo_scale, r.actual),
                    _pinball(recalibrated(sums, Calibration(1.0, z_raw)), r.actual),
                    _pinball(recalibrated(sums * r.loo_scale, Calibration(1.0, z)), r.actual),
                )
            )
        out.loc[w.index, list(METHODS)] = np.array(rows, dtype=float).reshape(len(w), len(METHODS))
    return out


def _pinball(quantiles: np.ndarray, actual: float) -> float:
    diff = actual - quantiles
    return float(np.mean(np.maximum(CV_LEVELS * diff, (CV_LEVELS - 1) * diff)))


def sku_scales(windows: pd.DataFrame, leave_out: bool = False, between: float = float("inf")) -> pd.Series:
    """Per SKU: its actual / forecast volume, shrunk toward its segment's (shrunk_scale). With `leave_out`, one
    value per window from the SKU's OTHER windows: the scale a window is scored with must not have seen that
    window, or the scores look better calibrated than the forecasts will be. `windows` hold `sum_var`
    (sum_variance) where `between` is finite."""
    by = windows.groupby("sku")
    actual, mean, n = by["actual"].transform("sum"), by["mean"].transform("sum"), by["actual"].transform("size")
    var = by["sum_var"].transform("sum") if "sum_var" in windows else pd.Series(0.0, index=windows.index)
    if leave_out:
        actual, mean, n = actual - windows["actual"], mean - windows["mean"], n - 1
        var = var - windows["sum_var"] if "sum_var" in windows else var
        prior = other_cutoffs_ratios(windows)
    else:
        prior = windows["segment"].map(segment_ratios(windows)).fillna(1.0)
    scale = pd.Series(shrunk_scale(actual, mean, n, prior, var, between), index=windows.index)
    return scale if leave_out else scale.groupby(windows["sku"]).first()


def other_cutoffs_ratios(windows: pd.DataFrame) -> pd.Series:
    """Per window: its segment's actual / forecast volume over the segment's windows of the OTHER cutoffs (1 where
    there are none): the prior a scale judged on that window may know. With the window's own cutoff in it, a
    segment of a few SKUs judged the scale on the volume it had been fitted to, and a global model whose bias
    changed as it was retrained on more history passed for one whose bias holds."""
    key = [windows["segment"], windows["cutoff"]]
    cut = windows.groupby(key)[["actual", "mean"]].transform("sum")
    seg = windows.groupby("segment")[["actual", "mean"]].transform("sum")
    actual, mean = seg["actual"] - cut["actual"], seg["mean"] - cut["mean"]
    return (actual / mean.where(mean > 0)).fillna(1.0)


def segment_ratios(windows: pd.DataFrame) -> pd.Series:
    """Per segment of `windows`: actual / forecast volume (1 where nothing was forecast)."""
    seg = windows.groupby("segment")[["actual", "mean"]].sum()
    return (seg["actual"] / seg["mean"].where(seg["mean"] > 0)).fillna(1.0)


def shrunk_scale(actual, mean, n, prior, var=0.0, between=float("inf")) -> np.ndarray:
    """A SKU's volume ratio over `n` windows (`actual`, `mean` and `var`: the sums of their actual demand, forecast
    mean and forecast variance), shrunk toward `prior` and bounded; elementwise over arrays.

    The ratio counts as much as n / (n + PRIOR_WINDOWS), and never more than its share of the variance the SKUs'
    true ratios explain, `between` / (`between` + its own noise): a ratio over windows in which a SKU sold a few
    units, or that its forecast put near 0, is mostly noise (empirical Bayes; the noise is the variance the
    forecast itself gives the windows' demand, at the prior ratio). On a panel of 24 small SKUs the count rule alone
    took the ratios of such SKUs at half weight, scaled their plans up to 4x, and the replay held 70% more stock
    than the empirical policy at equal fill (benchmarks/README.md, fifteenth session)."""
    actual, mean, n, prior, var = (np.asarray(x, dtype=float) for x in (actual, mean, n, prior, var))
    own = np.where(mean > 0, actual / np.where(mean > 0, mean, 1.0), prior)
    w = n / (n + PRIOR_WINDOWS)
    if np.isfinite(between):
        w = np.minimum(w, between / (between + ratio_noise(mean, var, prior)))
    return np.clip(w * own + (1 - w) * prior, *SCALE_BOUNDS)


def ratio_noise(mean, var, prior) -> np.ndarray:
    """The variance of a SKU's actual / forecast volume ratio from the demand's noise alone: the forecast's
    variance of the windows' demand over their squared forecast volume, at the `prior` ratio (infinite where
    nothing was forecast). Elementwise."""
    mean, var, prior = (np.asarray(x, dtype=float) for x in (mean, var, prior))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, prior**2 * np.maximum(var, 0.0) / np.where(mean > 0, mean, 1.0) ** 2, np.inf)


def sum_variance(windows: pd.DataFrame) -> np.ndarray:
    """Per window: the variance of the forecast's sample of the window's demand (`sums`)."""
    return np.array([float(np.var(np.asarray(s, dtype=float))) for s in windows["sums"]], dtype=float)


def between_variance(windows: pd.DataFrame) -> float:
    """How much the SKUs' true volume ratios vary around their segments', beyond the noise of each SKU's own:
    the DerSimonian-Laird estimate of between-study variance (DerSimonian and Laird 1986), each SKU a study of
    its ratio (bounded to SCALE_BOUNDS, so one forecast near 0 cannot set it) with its ratio_noise, at least
    MIN_BETWEEN."""
    by = windows.groupby("sku")
    sums = by[["actual", "mean", "sum_var"]].sum()
    prior = by["segment"].first().map(segment_ratios(windows)).fillna(1.0)
    noise = ratio_noise(sums["mean"], sums["sum_var"], prior)
    keep = np.isfinite(noise) & (noise > 0)
    if keep.sum() < 2:
        return MIN_BETWEEN
    ratio = np.clip(sums["actual"].to_numpy() / sums["mean"].to_numpy(), *SCALE_BOUNDS)[keep]
    gap = ratio - prior.to_numpy()[keep]  # around each SKU's own segment's ratio
    w = 1.0 / noise[keep]
    centre = np.sum(w * gap) / w.sum()
    q = float(np.sum(w * (gap - centre) ** 2))
    spread = q - (len(w) - 1)
    return max(spread / (w.sum() - np.sum(w**2) / w.sum()), MIN_BETWEEN)


def held_out(calibration: Calibration | None, windows: pd.DataFrame, start, end) -> Calibration | None:
    """The SKU's calibration with its scale taken again from only those of its `windows` (its cover records:
    cutoff, window_days, actual, mean, sum_var) that do not overlap the days (start, end]: what a rehearsal of
    those days may use without having seen them. An in-sample scale had fitted the very weeks it was
    judged on (the rehearsal of erratic s0 filled 95.5% where the weeks after gave 93.0%)."""
    if calibration is None or calibration.prior is None:
        return calibration
    cutoff = windows["cutoff"].to_numpy(dtype="datetime64[ns]")
    ends = cutoff + windows["window_days"].to_numpy(dtype="int64").astype("timedelta64[D]")
    kept = ~((cutoff < pd.Timestamp(end).to_datetime64()) & (ends > pd.Timestamp(start).to_datetime64()))
    actual, mean = windows["actual"].to_numpy(dtype=float)[kept], windows["mean"].to_numpy(dtype=float)[kept]
    var = windows["sum_var"].to_numpy(dtype=float)[kept].sum() if "sum_var" in windows else 0.0
    between = calibration.between if "sum_var" in windows else float("inf")
    scale = shrunk_scale(actual.sum(), mean.sum(), int(kept.sum()), calibration.prior, var, between)
    return Calibration(float(scale), calibration.z, calibration.prior, calibration.between)


def rescore(windows: pd.DataFrame, scales: np.ndarray) -> np.ndarray:
    """Each window's score against its SKU's forecast sample rescaled by `scales`, one per window (the SKU's
    scale from its other windows: sku_scales with leave_out)."""
    return np.array(
        [
            calibration_score(scale * np.asarray(r.sums, dtype=float), r.actual, f"{r.sku}|{r.model}|{r.cutoff}")
            for scale, r in zip(scales, windows.itertuples(index=False), strict=True)
        ]
    )


def coverage_error(windows: pd.DataFrame, source: pd.DataFrame, method: str) -> float:
    """Mean absolute gap between the out-of-sample coverage of the method's quantiles and their level, over
    CV_LEVELS (volume-weighted)."""
    return float(np.mean([abs(chosen_coverage(windows, source, q, method) - q) for q in CV_LEVELS]))


def chosen_coverage(windows: pd.DataFrame, source: pd.DataFrame, level: float, method: str) -> float:
    """Volume-weighted coverage of the `level` quantile after the chosen method (out of sample where it fits
    score quantiles)."""
    column = "raw_score" if method in ("forecast", "quantiles") else "score"
    if method in ("forecast", "scale"):
        return float(np.average(windows[column] <= level, weights=_weights(windows)))
    return cross_fitted_coverage(windows, source, level, column)


def cross_fitted_coverage(windows: pd.DataFrame, source: pd.DataFrame, level: float, column: str = "score") -> float:
    """Volume-weighted share of `windows` at or below the recalibrated `level` quantile, each cutoff's windows
    judged by score quantiles from the other cutoffs of `source` (in-sample when there is one cutoff)."""
    hits, weights = [], []
    for cutoff, w in windows.groupby("cutoff"):
        other = source[source["cutoff"] != cutoff]
        fit = other if len(other) else source
        z = score_quantiles(fit[column].to_numpy(), _weights(fit), at=level)[0]
        hits.append(np.minimum(w[column].to_numpy(float), MAX_SCORE) <= z)
        weights.append(_weights(w))
    return float(np.average(np.concatenate(hits), weights=np.concatenate(weights))) if hits else float("nan")


def _weights(windows: pd.DataFrame) -> np.ndarray:
    w = windows["mean"].to_numpy(float)
    return w if w.sum() > 0 else np.ones(len(w))
