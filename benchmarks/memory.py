"""Peak memory of a process tree, sampled from /proc (Linux): what the benchmarks quote as peak MB."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def tree_pss_mb(root: int) -> float:
    """Summed PSS of `root` and all its descendants, in MB (processes that vanish mid-read count as 0).

    PSS rather than RSS: forked workers share the parent's pages, and RSS would count them once per worker."""
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            pass
    return total_kb / 1024


class PeakMemory:
    """Peak PSS (MB) of this process tree while the block runs, sampled every 0.1 s."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = tree_pss_mb(os.getpid()), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, tree_pss_mb(os.getpid()))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
