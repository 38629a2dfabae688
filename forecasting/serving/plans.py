"""Which plan is served: the one published now, swapped in whole when the nightly job publishes another.

A request takes `holder.snapshot` once and answers from that object only, so one answer never mixes two runs;
a new plan is read in a worker thread while the old one is still served, then replaces it in one assignment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable, Sequence

from forecasting.serving.snapshot import NotPublished, Snapshot, current_folder, load

log = logging.getLogger(__name__)

RETRY_FAILED_SECONDS = 30.0  # a set that failed to load (a damaged file) is tried again after this long


class PlanHolder:
    def __init__(
        self,
        publish_dir: str | os.PathLike,
        text_columns: Sequence[str],
        enrich: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.publish_dir = publish_dir
        self.text_columns = tuple(text_columns)
        self.enrich = enrich  # adds what is derived from a plan (explanations, answers) before it is served
        self.snapshot: Snapshot | None = None
        self.failed: tuple[str, float] | None = None

    def current(self) -> Snapshot:
        snap = self.snapshot
        if snap is None:
            raise NotPublished("no plan has been published yet; the scheduled reforecast publishes one.")
        return snap

    def refresh(self) -> bool:
        """Load the published plan if it is not the one served; True when a new one was swapped in."""
        folder = current_folder(self.publish_dir)
        served = self.snapshot.folder if self.snapshot else None
        if folder is None or folder == served:
            return False
        if self.failed and self.failed[0] == folder and time.monotonic() - self.failed[1] < RETRY_FAILED_SECONDS:
            return False
        started = time.perf_counter()
        try:
            snap = load(self.publish_dir, self.text_columns)
        except Exception as exc:  # noqa: BLE001 - a bad set must not stop the server serving the last good one
            self.failed = (folder, time.monotonic())
            log.warning("could not load the plan published at %s (%s); still serving %s", folder, exc, served)
            return False
        if self.enrich is not None:
            try:
                self.enrich(snap)
            except Exception:  # noqa: BLE001 - served as loaded rather than not at all
                log.exception("preparing run %s's answers failed; serving its plan without them", snap.run_id)
        settle_heap()  # before the swap: its pause falls while the old plan is served, not on the new plan's answers
        self.snapshot = snap
        self.failed = None
        log.info(
            "serving run %s (data cut-off %s, %d SKUs), loaded in %.2fs",
            snap.run_id,
            snap.data_cutoff,
            len(snap.plan),
            time.perf_counter() - started,
        )
        return True

    async def watch(self, seconds: float) -> None:
        """Poll the published link; the read runs in a thread so requests are answered meanwhile."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # noqa: BLE001 - keep watching whatever one poll met
                log.exception("checking %s for a new plan failed", self.publish_dir)


def settle_heap() -> None:
    """Collect what earlier plans left, then exempt what is alive from the cycle collector (gc.freeze).

    A full collection walks every object of the process (the libraries and the plans: 0.1-1 s on a busy core);
    the answers' allocations trigger one now and then, and that request and the ones queued behind it wait.
    What is alive after a load lives until the next publication, so the collector need not look at it again;
    the plan replaced now is freed by reference counting, and any cycles it held by the next call.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
