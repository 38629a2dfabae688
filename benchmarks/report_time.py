"""Time report writing (`write_report`) on one run folder with the package of a given source tree, so two
commits' chart code can be timed side by side on the same folder:

    python benchmarks/report_time.py <tree A> <run folder> && python benchmarks/report_time.py <tree B> <run folder>

A tree is a checkout's root (a git worktree of the commit to compare). The report is written once to warm up,
then `--runs` times; the median is printed. The run folder's report.html is overwritten.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", help="the source tree whose forecasting package writes the report")
    parser.add_argument("run_folder", help="a run folder of task=plan (python run.py)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.tree)
    from forecasting.reports.html import write_report

    write_report(args.run_folder)
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        write_report(args.run_folder)
        times.append(time.perf_counter() - started)
    import forecasting

    spread = f"{min(times):.3f}-{max(times):.3f}"
    print(f"{forecasting.__file__}: median {statistics.median(times):.3f} s over {args.runs} ({spread})")


if __name__ == "__main__":
    main()
