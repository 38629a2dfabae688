"""Per-SKU parallelism with a progress bar, and no more compute threads than cores.

On Linux the workers are forked from this process (a standard-library process pool): they start in
milliseconds with every module already imported, and share the parent's memory until they write to it. A loky
pool spawns fresh interpreters that each import pandas, statsmodels and statsforecast, about 2 s of start-up,
which is more than the whole fit of the cheap models on a few hundred SKUs. `backend` names a joblib backend
instead (`loky`).

When one machine is not enough, `dask_backend` connects to a Dask distributed scheduler (or starts a
LocalCluster) and every `run_per_sku` inside it sends its SKU batches to the cluster's workers. Results do not
depend on where a SKU ran: each SKU's random numbers come from the run's seed and the SKU alone.

Every fit runs with BLAS/OpenMP (and numba) capped at one thread, in workers and in this process alike:
`n_jobs` processes of one thread each use the cores; more threads per fit only oversubscribe them.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing, contextmanager, suppress
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from forecasting.errors import InputError

log = logging.getLogger(__name__)

#: the Dask client `run_per_sku` sends work to, while a `dask_backend` block is open
_DASK: dict[str, Any] = {"client": None}
BACKENDS = ("local", "dask")
DASK_PORT = 8786  # `dask scheduler`'s default port

#: what forked workers inherit from the `run_per_sku` that started them (set only while its pool runs)
_FORKED: dict[str, Any] = {}

#: jobs per worker: enough to balance slow and fast SKUs, few enough to keep the hand-over cheap.
CHUNKS_PER_WORKER = 8


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
    client = _DASK["client"] if backend is None else None
    if client is not None:
        n_jobs = max(1, min(len(client.scheduler_info(n_workers=-1)["workers"]), len(skus)))
        backend = "dask"
    n_jobs = max(1, min(effective_n_jobs(n_jobs), len(skus)))
    log.info("%s: %d SKUs on %s %s worker(s)", desc, len(skus), n_jobs, backend or "local")
    items = [(i, sku, series[sku]) for i, sku in enumerate(skus)]
    out: list[Any] = [None] * len(skus)
    with tqdm(total=len(skus), desc=desc, unit="sku", mininterval=2.0) as bar:
        # closing: an exception here (Ctrl-C) stops the workers now, not when the generator is collected
        with closing(_results(fn, items, n_jobs, backend, kwargs)) as results:
            for i, result in results:
                out[i] = result
                bar.update(1)
    return out


def _results(fn, items, n_jobs: int, backend: str | None, kwargs: dict) -> Iterator[tuple[int, Any]]:
    size = max(1, -(-len(items) // (n_jobs * CHUNKS_PER_WORKER)))
    if backend == "dask":
        yield from _dask_results(_DASK["client"], fn, items, size, kwargs)
    elif n_jobs == 1 and backend is None:
        with single_threaded():
            yield from _chunk(fn, items, kwargs)
    elif backend is None and sys.platform == "linux":
        # The workers inherit the SKUs' data and the shared arguments through the fork, so only a chunk's bounds
        # travel to them: pickled per chunk, they were parent work that grew with the SKUs and the shared tables.
        _FORKED.update(fn=fn, items=items, kwargs=kwargs)
        # Frozen, the inherited objects are left out of the workers' garbage collections: a collection writes
        # to every object it scans, so each worker would copy every page of the parent's heap it inherited.
        gc.freeze()
        pool = ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker)
        try:
            futures = [pool.submit(_forked_chunk, k, k + size) for k in range(0, len(items), size)]
            for future in as_completed(futures):
                yield from future.result()
        except BaseException:  # Ctrl-C, a failed chunk, or the caller stopped reading
            _stop_now(pool)
            raise
        finally:
            pool.shutdown(wait=True)
            gc.unfreeze()
            _FORKED.clear()
    else:
        runner = Parallel(n_jobs=n_jobs, backend=backend, return_as="generator_unordered")
        for chunk in runner(delayed(_chunk_list)(fn, [item], kwargs) for item in items):
            yield from chunk


def _dask_results(client, fn, items, size: int, kwargs: dict) -> Iterator[tuple[int, Any]]:
    from distributed import as_completed as dask_completed

    # The models and folds go to every worker once, not with every batch.
    [shared] = client.scatter([kwargs], broadcast=True)
    futures = [
        client.submit(_chunk_list, fn, items[k : k + size], shared, pure=False) for k in range(0, len(items), size)
    ]
    for future in dask_completed(futures):
        yield from future.result()


@contextmanager
def dask_backend(backend: str = "local", scheduler_address: str | None = None, n_workers: int = 1) -> Iterator[Any]:
    """Inside the block, per-SKU work runs on a Dask cluster when `backend` is "dask": the scheduler at
    `scheduler_address` (e.g. tcp://10.0.0.5:8786), or a LocalCluster of `n_workers` one-thread processes."""
    if backend in (None, "local"):
        yield None
        return
    if backend != "dask":
        raise InputError(f"parallel.backend={backend} is unknown; use one of {', '.join(BACKENDS)}.")
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler_address:
        check_scheduler_address(scheduler_address)
        try:
            client = Client(str(scheduler_address), timeout="20s")
        except OSError as exc:
            raise InputError(
                f"parallel.scheduler_address={scheduler_address}: no Dask scheduler answered ({exc}); start one "
                "(dask scheduler) or leave the address out to run on a LocalCluster."
            ) from exc
    else:
        workers = max(1, effective_n_jobs(n_workers))
        # Started with SIGINT ignored, the worker processes keep ignoring it (an ignored signal stays ignored
        # across exec, and Python then installs no handler): Ctrl-C is this process's to act on, as for the
        # forked pool, instead of every worker printing its own KeyboardInterrupt traceback.
        main = threading.current_thread() is threading.main_thread()  # where signal handlers may be set
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None, silence_logs=logging.WARNING
            )
        finally:
            if main:
                signal.signal(signal.SIGINT, handler)
        client = Client(cluster)
    log.info("Dask: per-SKU work on %s (%d workers)", client.scheduler.address, len(client.scheduler_info()["workers"]))
    _DASK["client"] = client
    try:
        yield client
    except BaseException:
        # The run is stopping (Ctrl-C, a failure): closing the cluster now makes the scheduler log its workers'
        # loss and the workers, whose heartbeats race the scheduler's close, log its loss, all with tracebacks.
        _mute_shutdown_noise()
        if cluster is not None:  # our own workers only: a shared scheduler's workers serve others too
            with suppress(Exception):
                client.run(_mute_shutdown_noise, on_error="ignore")
        raise
    finally:
        _DASK["client"] = None
        client.close()
        if cluster is not None:
            cluster.close()


def _mute_shutdown_noise() -> None:
    """Once a run is stopping, Dask's logs of lost connections are noise (the user sees one sentence)."""
    for name in ("distributed", "asyncio", "tornado"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def check_scheduler_address(address: str | None, backend: str | None = "dask") -> None:
    """Stop before any work on an address Dask cannot dial (no port, unknown protocol), with one that works."""
    if not address:
        return
    if backend in (None, "local"):
        log.warning(
            "parallel.scheduler_address=%s is ignored with parallel.backend=local; add parallel=dask to use it",
            address,
        )
        return
    from distributed.comm.addressing import parse_address, parse_host_port, unparse_host_port
    from distributed.comm.registry import backends

    scheme, location = parse_address(str(address).strip(), strict=False)
    try:  # Dask's own parsing, as Client() does it
        if scheme not in backends:
            raise ValueError(scheme)
        if scheme != "inproc":
            parse_host_port(location)
        return
    except ValueError:
        pass
    try:
        host = parse_host_port(location, default_port=DASK_PORT)[0]
    except ValueError:
        host = "localhost"
    scheme = scheme if scheme in backends and scheme != "inproc" else "tcp"
    raise InputError(
        f"parallel.scheduler_address={address} is not an address Dask can dial: give protocol://host:port, e.g. "
        f"parallel.scheduler_address={scheme}://{unparse_host_port(host, DASK_PORT)} ({DASK_PORT} is the port "
        "`dask scheduler` listens on by default)."
    )


def _chunk(fn, items, kwargs: dict) -> Iterator[tuple[int, Any]]:
    for i, sku, data in items:
        yield i, fn(sku, data, **kwargs)


def _forked_chunk(start: int, stop: int) -> list[tuple[int, Any]]:
    return _chunk_list(_FORKED["fn"], _FORKED["items"][start:stop], _FORKED["kwargs"])


def _chunk_list(fn, items, kwargs: dict) -> list[tuple[int, Any]]:
    with single_threaded():
        return list(_chunk(fn, items, kwargs))


@contextmanager
def single_threaded() -> Iterator[None]:
    """BLAS/OpenMP and numba at one thread inside the block, restored after it."""
    numba = sys.modules.get("numba")
    before = numba.get_num_threads() if numba else None
    with threadpool_limits(limits=1):
        if numba:
            numba.set_num_threads(1)
        try:
            yield
        finally:
            if numba:
                numba.set_num_threads(before)


def _init_worker() -> None:
    # A forked worker inherits the parent's thread pools; cap them for the worker's whole life.
    threadpool_limits(limits=1)
    # Ctrl-C is the parent's to act on (it stops the workers): a worker that caught it would hand the
    # KeyboardInterrupt back as its chunk's result and go on with the next chunk.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once: queued chunks are cancelled, running ones killed (nobody will read them).

    A plain shutdown waits for every chunk already handed out, and Ctrl-C took as long as the rest of the fit.
    """
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown forgets them
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
    # The manager thread sees the killed workers and closes its wake-up pipe; if it still runs when the
    # interpreter exits, Python 3.11's exit hook writes to that pipe unlocked and can print a traceback
    # (EBADF) after the one-sentence message. Waiting for it here closes the race.
    if manager is not None:
        manager.join(timeout=5)


def release_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the system (glibc), between stages.

    Freed memory otherwise stays in this process's heap, counted in its RSS, and every worker forked later
    starts sharing it; a stage's temporaries then set the footprint of all the stages after it."""
    gc.collect()
    if sys.platform == "linux":
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass
