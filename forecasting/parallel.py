"""Per-SKU parallelism through joblib, with a progress bar.

The backend is joblib's (loky processes by default; `parallel.backend=dask` with a Dask client for more than one
machine). loky caps BLAS threads in each worker at cores / n_jobs, so n_jobs workers never oversubscribe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from joblib import Parallel, delayed
from tqdm.auto import tqdm

log = logging.getLogger(__name__)


def run_per_sku(
    fn: Callable[..., Any],
    series: Mapping[str, Any],
    n_jobs: int = 1,
    desc: str = "SKUs",
    backend: str | None = None,
    **kwargs: Any,
) -> list[Any]:
    """`fn(sku, series[sku], **kwargs)` for every SKU, results in SKU order."""
    skus = list(series)
    log.info("%s: %d SKUs on %s worker(s)", desc, len(skus), n_jobs)
    jobs = (delayed(_tagged)(fn, i, sku, series[sku], kwargs) for i, sku in enumerate(skus))
    runner = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")
    out: list[Any] = [None] * len(skus)
    with tqdm(total=len(skus), desc=desc, unit="sku", mininterval=2.0) as bar:
        for i, result in runner(jobs):
            out[i] = result
            bar.update(1)
    return out


def _tagged(fn: Callable[..., Any], i: int, sku: str, data: Any, kwargs: dict) -> tuple[int, Any]:
    return i, fn(sku, data, **kwargs)
