"""Latency and throughput of the HTTP API (`python run.py task=serve`) on a 3,000-SKU plan, localhost only.

    python benchmarks/serve_latency.py                      # 3,000 SKUs, 10 and 100 clients, ~30 s
    python benchmarks/serve_latency.py --skus 500 --requests 2000 --seconds 10

A synthetic plan of --skus SKUs (90 days of forecast each, the plan's columns) is written as a run folder and
published with the nightly job's own publish step; the real server is started as a subprocess on 127.0.0.1 and
called over HTTP/1.1 keep-alive connections by --concurrency clients (asyncio, one connection each). Each
scenario is bounded by --requests and by --seconds, whichever ends first. Prints requests per second and the
p50/p99 latency per endpoint and concurrency. The clients share the machine's cores with the server: on two
cores the numbers are a floor for the server alone. Each concurrency gets a fresh publication (the server swaps
it in and its answers are new): the per-SKU answers the server renders when a plan loads, and one that it
renders on request (filtered pages of the plan, the orders and the exceptions), are each asked once; then random
SKUs and pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.storage import write_csv, write_parquet  # noqa: E402
from forecasting.storage.publish import checksums, publish  # noqa: E402

QUANTILES = ("p5", "p10", "p50", "p90", "p95")


def synthetic_run(run_dir: Path, n_skus: int, seed: int = 0, horizon: int = 90) -> list[str]:
    """A run folder with a plan, a forecast, a leaderboard and per-SKU accuracy for `n_skus` SKUs."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True)
    skus = [f"{20000 + i}{'AB'[i % 2] if i % 3 == 0 else ''}" for i in range(n_skus)]
    level = rng.gamma(1.5, 4.0, n_skus)
    cutoff = pd.Timestamp("2011-12-09")
    dates = pd.date_range(cutoff + pd.Timedelta(days=1), periods=horizon, freq="D")
    mean = np.repeat(level, horizon) * (1 + 0.2 * np.tile(np.sin(np.arange(horizon) / 7 * 2 * np.pi), n_skus))
    spread = np.sqrt(mean + 1)
    forecast = pd.DataFrame({"sku": np.repeat(skus, horizon), "date": np.tile(dates, n_skus), "model": "ets"})
    forecast["mean"] = mean
    for q, z in zip(QUANTILES, (-1.645, -1.282, 0.0, 1.282, 1.645), strict=True):
        forecast[q] = np.maximum(mean + z * spread, 0.0)
    forecast["fallback"] = False
    write_parquet(forecast, run_dir / "forecast.parquet")
    abc = rng.choice(["A", "B", "C"], n_skus, p=[0.2, 0.3, 0.5])
    cls = rng.choice(["smooth", "intermittent", "lumpy", "erratic"], n_skus)
    order_qty = np.where(rng.random(n_skus) < 0.3, np.ceil(level * 20), 0.0)
    codes = np.array(["", "", "", "EXCESS_STOCK", "NO_RECENT_SALES", "STOCKOUT_BEFORE_RECEIPT;FORECAST_MOVED"])
    plan = pd.DataFrame(
        {
            "sku": skus,
            "description": [f"ITEM {i} DESCRIPTION" for i in range(n_skus)],
            "abc": abc,
            "demand_class": cls,
            "segment": [f"{a}-{c}" for a, c in zip(abc, cls, strict=True)],
            "policy": "periodic",
            "service_measure": "fill_rate",
            "service_target": 0.95,
            "lead_time_days": 14.0,
            "review_period_days": 7.0,
            "on_hand": np.round(level * 25),
            "on_order": 0.0,
            "safety_stock": level * 6,
            "reorder_point": level * 21,
            "order_up_to": level * 28,
            "order_qty": order_qty,
            "unit_cost": 2.0,
            "order_value": order_qty * 2.0,
            "order_by": np.where(order_qty > 0, str((cutoff + pd.Timedelta(days=1)).date()), ""),
            "stockout_date_p50": "",
            "stockout_date_p90": "",
            "days_of_cover": np.round(rng.uniform(5, 200, n_skus), 1),
            "demand_30d_p50": level * 30,
            "demand_60d_p50": level * 60,
            "calibration_factor": 1.0,
            "exceptions": rng.choice(codes, n_skus),
            "model": "ets",
            "stock_source": "assumed",
            "param_source": "config",
        }
    )
    write_csv(plan, run_dir / "plan.csv")
    board = pd.DataFrame({"rank": [1, 2], "model": ["ets", "seasonal_naive"], "rmsse": [0.8, 1.0]})
    write_csv(board, run_dir / "leaderboard.csv")
    acc = pd.DataFrame({"model": "ets", "sku": skus, "rmsse": rng.uniform(0.5, 1.2, n_skus), "points": 30})
    write_csv(acc, run_dir / "metrics_by_sku.csv")
    (run_dir / "report.html").write_text("<html></html>")
    return skus


def filtered_pages(published: Path) -> list[str]:
    """Distinct filtered pages of the plan, the orders and the exceptions (segment or exception code, page size,
    offset), shuffled."""
    plan = pd.read_csv(published / "plan.csv", usecols=["segment", "exceptions"], keep_default_na=False)
    segments = sorted(plan["segment"].unique())
    codes = sorted({c for cs in plan["exceptions"].str.split(";") for c in cs if c})
    sizes, offsets = (10, 20, 50), range(0, 250, 2)
    pages = [f"/plan?segment={s}&limit={n}&offset={o}" for s in segments for n in sizes for o in offsets]
    pages += [f"/orders?segment={s}&limit={n}&offset={o}" for s in segments for n in sizes for o in offsets[:40]]
    pages += [f"/exceptions?code={c}&limit={n}&offset={o}" for c in codes for n in sizes for o in offsets]
    return list(np.random.default_rng(0).permutation(pages))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int, token: str) -> subprocess.Popen:
    cmd = [
        sys.executable,
        str(ROOT / "run.py"),
        "task=serve",
        f"serve.port={port}",
        f"serve.publish_dir={folder / 'latest'}",
        f"serve.warehouse={folder / 'warehouse.duckdb'}",
        f"hydra.run.dir={folder / 'serve'}",
    ]
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - the server's whole life
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "FORECAST_API_TOKEN": token}
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.load(r)["plan_loaded"]:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped: {(folder / 'serve.log').read_text()[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not answer /health within 60 s")


def wait_for_run(port: int, token: str, run_id: str, seconds: float = 60) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/latest", headers={"Authorization": f"Bearer {token}"})
    deadline = time.time() + seconds
    while time.time() < deadline:
        with urllib.request.urlopen(request, timeout=5) as r:
            if json.load(r)["run_id"] == run_id:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not swap in run {run_id} within {seconds} s")


async def client(port: int, token: str, paths, budget: dict, latencies: list[float], seed: int) -> None:
    """One keep-alive connection: random paths from a list, or the next of a shared iterator (each path once)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = np.random.default_rng(seed)
    head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: keep-alive\r\n\r\n"
    try:
        while budget["left"] > 0 and time.perf_counter() < budget["until"]:
            budget["left"] -= 1
            path = paths[int(rng.integers(len(paths)))] if isinstance(paths, list) else next(paths, None)
            if path is None:
                break
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\n{head}".encode())
            headers = await reader.readuntil(b"\r\n\r\n")
            status = int(headers[9:12])
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                budget["errors"] += 1
    finally:
        writer.close()


async def scenario(port, token, paths, clients, requests, seconds) -> dict:
    budget = {"left": requests, "until": time.perf_counter() + seconds, "errors": 0}
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(port, token, paths, budget, latencies, seed) for seed in range(clients)))
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": budget["errors"],
        "req_per_s": len(ms) / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=6000, help="most requests per scenario")
    parser.add_argument("--seconds", type=float, default=15.0, help="most seconds per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        folder = Path(tmp)
        run_dir = folder / "runs" / "bench"
        skus = synthetic_run(run_dir, args.skus)
        port = free_port()
        rows = []
        proc = None
        try:
            for clients in args.concurrency:
                # A new publication per concurrency: the server swaps it in, its answer cache starts empty.
                run_id = f"bench-{clients}"
                source = {"run_id": run_id, "run_dir": str(run_dir), "data_cutoff": "2011-12-09", "completed_at": ""}
                publish(run_dir, folder / "latest", checksums(run_dir), source)
                proc = proc or start_server(folder, port, token)
                wait_for_run(port, token, run_id)
                shuffled = np.random.default_rng(clients).permutation(skus)
                scenarios = (
                    # Rendered when the plan loaded (the per-SKU answers are), first request of each SKU.
                    ("sku forecast, first request of each", iter([f"/skus/{s}/forecast" for s in shuffled]), args.skus),
                    ("sku forecast", [f"/skus/{s}/forecast" for s in skus], args.requests),
                    # Not rendered ahead: each query once, so every answer goes through routing and validation.
                    ("filtered page, first request of each", iter(filtered_pages(folder / "latest")), args.skus),
                    (
                        "plan page of 100",
                        [f"/plan?limit=100&offset={o}" for o in range(0, args.skus, 100)],
                        args.requests,
                    ),
                )
                for name, paths, requests in scenarios:
                    result = asyncio.run(scenario(port, token, paths, clients, requests, args.seconds))
                    rows.append({"endpoint": name, "clients": clients, **result})
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    table = pd.DataFrame(rows)
    print(f"HTTP API on {args.skus} SKUs, {os.cpu_count()} cores shared by server and clients")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
