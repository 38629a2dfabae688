"""The HTTP API for real: `python run.py task=serve` in a subprocess on 127.0.0.1, called over HTTP.

One warehouse is built per module by the scheduled reforecast itself, on a demand table whose SKU codes are
hostile (a formula, a script tag, a path, SQL quotes); a second reforecast publishes while requests run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import InputError
from forecasting.explain.components import WEEKDAYS
from forecasting.pipeline.settings import check_config
from forecasting.serving import pages
from forecasting.storage import read_csv

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"
HYPERLINK = '=HYPERLINK("http://x","click")'
SCRIPT = "<script>alert(1)</script>"
# "S1/forecast" is also the path of S1's forecast; "S1/why/plan" ends in two parts' names.
HOSTILE_SKUS = [HYPERLINK, SCRIPT, "../../etc/passwd", "O'Brien\"; DROP TABLE runs;--", "A/B 100%", "S1/forecast",
                "S1/why/plan", "Crème brûlée 货号 ✓"]  # fmt: skip
SKUS = ["S0", "S1", "S2", *HOSTILE_SKUS]
# Sent in every parameter: these and the codes above; none may give a 500 or show the server's internals.
ATTACKS = [*HOSTILE_SKUS, "' OR '1'='1", "1; SELECT * FROM runs", "%00", "\x00", "..%2F..%2F", "\u202e", "x" * 300, ""]


def demand_table(days: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    dates = pd.date_range("2024-01-01", periods=days, freq="D")
    parts = [
        pd.DataFrame({"item": sku, "day": dates, "units": rng.poisson(3.0 + i, days).astype(float), "desc": sku})
        for i, sku in enumerate(SKUS)
    ]
    return pd.concat(parts, ignore_index=True)


def reforecast(base: Path, end: str, models: str = "[ets]") -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run.py"),
            "experiment=reforecast",
            "data=daily_demand",
            f"data.path={base / 'sales.parquet'}",
            "data.columns.sku=item",
            "data.columns.date=day",
            "data.columns.quantity=units",
            "data.columns.description=desc",
            "data.panel.min_history_days=60",
            f"data.end={end}",
            f"model={models}",
            "backtest.folds=1",
            "backtest.horizon=14",
            "backtest.step=14",
            "num_samples=40",
            "parallel.n_jobs=1",
            "plan.unit_cost=2.0",
            "plan.assumed_cover_days=10",  # little stock: orders to place, and stock-out exceptions
            f"reforecast.warehouse={base / 'wh.duckdb'}",
            f"reforecast.lock_path={base / 'reforecast.lock'}",
            f"reforecast.publish_dir={base / 'latest'}",
            f"hydra.run.dir={base / 'runs' / end}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(base: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "run.py"),
        "task=serve",
        f"serve.publish_dir={base / 'latest'}",
        f"serve.warehouse={base / 'wh.duckdb'}",
        "serve.poll_seconds=0.2",
        f"hydra.run.dir={base / 'serve'}",
        *extra,
    ]


class Api:
    def __init__(self, port: int, base: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.base = base

    def get(self, path: str, token: str | None = TOKEN, accept: str | None = None) -> tuple[int, Message, bytes]:
        request = urllib.request.Request(self.url + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path: str) -> dict:
        status, _, body = self.get(path)
        assert status == 200, (path, status, body)
        return json.loads(body)


@contextlib.contextmanager
def serving(base: Path):
    """`task=serve` over `base`'s published plan, on a free port, until the block ends; no traceback in its log."""
    port = free_port()
    log = open(base / "serve.log", "w")  # noqa: SIM115 - closed when the block ends
    proc = subprocess.Popen(
        serve_command(base, f"serve.port={port}"),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "FORECAST_API_TOKEN": TOKEN},
    )
    client = Api(port, base)
    deadline = time.time() + 60
    try:
        while True:
            try:
                if client.get("/health", token=None)[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.time() < deadline, (base / "serve.log").read_text()[-3000:]
            time.sleep(0.2)
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    served_log = (base / "serve.log").read_text()
    assert "Traceback" not in served_log, served_log[-3000:]  # no request, however hostile, met a bug


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    demand_table().to_parquet(base / "sales.parquet", index=False)
    first = reforecast(base, "2024-06-01")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    with serving(base) as client:
        yield client


def q(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def plan_csv(base: Path, run_id: str) -> pd.DataFrame:
    return read_csv(base / "runs" / run_id / "plan.csv", dtype={"sku": str, "exceptions": str}).set_index("sku")


ENDPOINTS = [
    "/latest",
    "/skus/S1",
    "/skus/S1/forecast",
    "/skus/S1/plan",
    "/skus/S1/accuracy",
    "/plan",
    "/orders",
    "/exceptions",
    "/leaderboard",
    "/runs",
    "/runs/x",
    "/docs",
    "/openapi.json",
    "/no/such/path",
]


def test_health_is_open_and_everything_else_needs_the_token(api):
    status, _, body = api.get("/health", token=None)
    assert status == 200 and json.loads(body) == {"status": "ok", "plan_loaded": True}
    for path in ENDPOINTS:
        for token in (None, "wrong-token-0123456789", TOKEN + "x", ""):
            status, headers, body = api.get(path, token=token)
            assert status == 401, (path, token, status)
            assert headers.get("www-authenticate") == "Bearer"
            assert json.loads(body)["status"] == 401


def test_latest_and_per_sku_answers(api):
    latest = api.json("/latest")
    run_id = latest["run_id"]
    assert latest["data_cutoff"] == "2024-06-01" and latest["skus"] == len(SKUS)
    sku = api.json("/skus/S1")
    assert sku["run_id"] == run_id and sku["sku"] == "S1"
    days = sku["forecast"]
    assert len(days) == 90 and days[0]["date"] == "2024-06-02"
    assert {"mean", "p5", "p10", "p50", "p90", "p95"} <= set(days[0])
    assert all(d["p5"] <= d["p50"] <= d["p95"] for d in days)
    expected = plan_csv(api.base, run_id).loc["S1"]
    for column in ("order_qty", "reorder_point", "order_up_to"):
        assert sku["plan"][column] == pytest.approx(expected[column])
    assert sku["plan"]["order_by"] == (expected["order_by"] or "")
    assert {a["model"] for a in sku["accuracy"]} >= {"ets", "seasonal_naive"}
    assert api.json("/skus/S1/forecast")["forecast"] == days
    # Rendered when the plan loaded, or by the endpoint (another query string): the same answer.
    for path in ("/skus/S1", "/skus/S1/forecast", "/skus/S1/plan", "/skus/S1/accuracy", "/skus/S1/why"):
        ready, made = api.get(path), api.get(path + "?format=json")
        assert ready[2] == made[2] and dict(ready[1].items()) == dict(made[1].items()) | {"date": ready[1]["date"]}
    assert api.json("/skus/S1/plan")["plan"] == sku["plan"]
    assert api.json("/skus/S1/accuracy")["accuracy"] == sku["accuracy"]
    why = api.json("/skus/S1/why")["why"]
    assert why == sku["why"] and why["model"] == "ets" and why["components"]["level"] > 0
    assert why["components"]["sentence"].startswith("Level ") and set(why["components"]["season"]) == set(WEEKDAYS)
    assert why["moved"] == ["No previous plan to compare with: this is the SKU's first plan in the warehouse."]


def test_pages_filters_and_limits(api):
    first = api.json("/plan?limit=3")
    assert first["total"] == len(SKUS) and len(first["items"]) == 3 and first["next_offset"] == 3
    rest = api.json("/plan?limit=100&offset=3")
    assert rest["next_offset"] is None
    assert [r["sku"] for r in first["items"] + rest["items"]] == sorted(SKUS)
    segment = first["items"][0]["segment"]
    same = api.json(f"/plan?segment={q(segment)}&limit=1000")
    assert same["total"] >= 1 and {r["segment"] for r in same["items"]} == {segment}
    assert api.json("/plan?segment=nothing-like-it")["total"] == 0
    orders = api.json("/orders?limit=1000")
    assert orders["total"] > 0 and api.json("/exceptions")["total"] > 0
    assert all(r["order_qty"] > 0 for r in orders["items"])
    assert [r["order_by"] for r in orders["items"]] == sorted(r["order_by"] for r in orders["items"])
    assert api.json("/orders?order_by_until=2000-01-01")["total"] == 0
    exceptions = api.json("/exceptions?limit=1000")
    assert all(r["exceptions"] for r in exceptions["items"])
    for row in exceptions["items"]:
        code = row["exceptions"].split(";")[0]
        assert row["sku"] in {r["sku"] for r in api.json(f"/exceptions?code={code}&limit=1000")["items"]}
    for bad in ("limit=0", "limit=1001", "limit=abc", "offset=-1", "format=xml", "order_by_until=tomorrow"):
        status, _, body = api.get(f"/orders?{bad}")
        error = json.loads(body)
        assert status == 422 and error["status"] == 422 and error["error"].endswith("."), (bad, body)


def test_a_page_answered_on_the_fast_path_is_the_one_fastapi_gives(api):
    """Plainly valid list queries skip FastAPI's parameter handling (forecasting.serving.pages); a parameter
    given twice sends the same query through FastAPI: the two answers must be the same bytes."""
    segment = api.json("/plan?limit=1")["items"][0]["segment"]
    code = api.json("/exceptions?limit=1")["items"][0]["exceptions"].split(";")[0]
    queries = [
        "/plan?limit=3&offset=2&format=json",
        f"/plan?segment={q(segment)}&abc=A&format=json",
        "/orders?limit=5&order_by_until=2030-01-01&format=json",
        f"/exceptions?code={q(code)}&format=json",
        f"/plan?exception={q(code)}&limit=4&format=csv",
        "/orders?format=csv",
    ]
    for query in queries:
        fast = api.get(query)
        fmt = query.rsplit("format=", 1)[1]
        slow = api.get(f"{query}&format={fmt}")
        path, _, params = query.partition("?")
        twice = f"{params}&format={fmt}".encode()
        assert pages.parse(path, params.encode(), 1000) and not pages.parse(path, twice, 1000)  # fast, then not
        assert fast[0] == slow[0] == 200 and fast[2] == slow[2], query
        assert dict(fast[1].items()) == dict(slow[1].items()) | {"date": fast[1]["date"]}, query
    # Query strings are read as Starlette reads them for FastAPI.
    for raw in ("segment=A-smooth&limit=5", "code=A%2BB+C&model=%E2%9C%93", "abc=%27%3B--", "segment=%FF"):
        assert pages._pairs(raw.encode()) == urllib.parse.parse_qsl(raw, keep_blank_values=True), raw


def test_leaderboard_runs_and_docs(api):
    board = api.json("/leaderboard")
    assert [m["model"] for m in board["models"]][:1] and {"rmsse", "wape"} <= set(board["models"][0])
    runs = api.json("/runs")
    assert runs["total"] >= 1 and "run_dir" not in runs["items"][0]
    run_id = api.json("/latest")["run_id"]
    one = api.json(f"/runs/{q(run_id)}")
    assert one["run"]["run_id"] == run_id and one["run"]["status"] == "complete"
    assert one["plan"]["skus"] == len(SKUS) and {r["model"] for r in one["leaderboard"]} >= {"ets"}
    status, _, body = api.get("/runs/no-such-run")
    assert status == 404 and json.loads(body)["error"].endswith(".")
    doc = api.json("/openapi.json")
    assert {"/skus/{sku}/forecast", "/plan", "/orders", "/runs/{run_id}"} <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert api.get("/docs")[0] == 200


def test_csv_answers_are_safe_in_a_spreadsheet_and_read_back(api):
    status, headers, body = api.get("/plan?format=csv&limit=1000")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    cells = [row[0] for row in csv.reader(io.StringIO(body.decode()))][1:]
    assert "'" + HYPERLINK in cells and HYPERLINK not in cells  # shown as text, never run as a formula
    assert set(read_csv(io.BytesIO(body), dtype={"sku": str})["sku"]) == set(SKUS)
    by_accept = api.get(f"/skus/{q(HYPERLINK)}/forecast", accept="text/csv")
    assert by_accept[0] == 200 and by_accept[1]["content-type"].startswith("text/csv")
    assert set(read_csv(io.BytesIO(by_accept[2]), dtype={"sku": str})["sku"]) == {HYPERLINK}
    for path in ("/orders?format=csv", "/exceptions?format=csv", "/leaderboard?format=csv", "/runs?format=csv"):
        assert api.get(path)[0] == 200, path
    assert api.get("/skus/S1?format=csv")[0] == 406
    both = api.get("/skus/S2/forecast", accept="text/csv, application/json")  # JSON wins, and is not kept as CSV
    assert both[1]["content-type"] == "application/json"
    assert api.get("/skus/S2/forecast", accept="text/csv")[1]["content-type"].startswith("text/csv")


def test_hostile_codes_come_back_as_data(api):
    for sku in HOSTILE_SKUS:
        for tail in ("", "/forecast", "/plan", "/accuracy", "/why"):
            status, headers, body = api.get(f"/skus/{q(sku)}{tail}")
            assert status == 200, (sku, tail, body)
            assert headers["content-type"] == "application/json" and json.loads(body)["sku"] == sku


def test_every_code_is_addressable_whatever_it_ends_in(api):
    """A code's own slashes travel as %2F; only a literal slash names a part. So the SKU "S1/forecast" and S1's
    forecast are two answers, and a code sent with a bare slash still works unless it ends in a part's name."""
    whole = api.json(f"/skus/{q('S1/forecast')}")
    assert whole["sku"] == "S1/forecast" and whole["plan"]["sku"] == "S1/forecast" and whole["forecast"]
    part = api.json("/skus/S1/forecast")
    assert part["sku"] == "S1" and set(part) == {"run_id", "data_cutoff", "completed_at", "sku", "forecast"}
    assert api.json(f"/skus/{q('S1/forecast')}/plan")["plan"]["sku"] == "S1/forecast"
    assert api.json(f"/skus/{q('S1/why/plan')}/why")["sku"] == "S1/why/plan"
    # The answers the server rendered ahead are keyed the same way: asked twice, each is still its own.
    assert api.json(f"/skus/{q('S1/forecast')}")["sku"] == "S1/forecast" and api.json("/skus/S1/forecast") == part
    assert api.json("/skus/A/B%20100%25/plan")["plan"]["sku"] == "A/B 100%"  # a bare slash, as before
    unicode = "Crème brûlée 货号 ✓"
    assert api.json("/skus/" + urllib.parse.quote(unicode))["plan"]["description"] == unicode
    status, _, body = api.get("/skus/%FF%FE/plan")  # not UTF-8: no code of any plan
    assert status == 404 and json.loads(body)["error"].endswith(".")


def test_attacks_in_every_parameter_give_data_or_4xx(api):
    run_id = api.json("/latest")["run_id"]
    paths = []
    for text in ATTACKS:
        v = q(text)
        paths += [f"/skus/{v}{tail}" for tail in ("", "/forecast", "/plan", "/accuracy", "/why")] + [f"/runs/{v}"]
        paths += [f"/plan?{k}={v}" for k in ("segment", "abc", "demand_class", "model", "exception", "limit")]
        paths += [f"/orders?{k}={v}" for k in ("segment", "model", "exception", "order_by_until", "offset")]
        paths += [f"/exceptions?code={v}", f"/runs?status={v}", f"/leaderboard?format={v}", f"/plan?{v}={v}"]
    paths += ["/skus/../../etc/passwd", "/skus/%2e%2e/%2e%2e/runs", f"/runs/{q(run_id)}'--"]
    for path in paths:
        status, headers, body = api.get(path)
        assert status == 200 or 400 <= status < 500, (path, status, body[:300])
        assert headers["content-type"] in ("application/json", "text/csv; charset=utf-8"), path
        text = body.decode(errors="replace")
        assert "Traceback" not in text and str(api.base) not in text and "duckdb" not in text.lower(), path
        if status >= 400:
            error = json.loads(body)
            assert error["status"] == status and error["error"].endswith(".") and "<script" not in error["error"]
    assert api.json(f"/runs/{q(run_id)}")["run"]["status"] == "complete"  # still there: nothing was dropped


def test_a_publication_during_requests_never_mixes_two_runs(api):
    """A second reforecast publishes a plan with a later cut-off while clients read; every answer is one run's."""
    before = api.json("/latest")["run_id"]
    answers: list[tuple[str, dict, dict]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for path in ("/skus/S2", "/plan?limit=1000"):
                status, headers, body = api.get(path)
                assert status == 200, body
                answers.append((path, headers, json.loads(body)))
            time.sleep(0.01)  # leave the two cores to the reforecast: hundreds of answers are enough

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        second = reforecast(api.base, "2024-06-20")
        assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
        deadline = time.time() + 20
        while api.json("/latest")["run_id"] == before:  # served without a restart
            assert time.time() < deadline, "the new plan was not served"
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in readers:
            t.join()
    after = api.json("/latest")
    assert after["run_id"] != before and after["data_cutoff"] == "2024-06-20"
    plans = {r: plan_csv(api.base, r) for r in (before, after["run_id"])}
    cutoffs = {before: "2024-06-01", after["run_id"]: "2024-06-20"}
    seen = set()
    for path, headers, body in answers:
        run_id = body["run_id"]
        seen.add(run_id)
        assert headers["x-run-id"] == run_id and body["data_cutoff"] == cutoffs[run_id]
        rows = [body["plan"]] if path.startswith("/skus") else body["items"]
        for row in rows:
            assert row["order_up_to"] == pytest.approx(plans[run_id].loc[row["sku"], "order_up_to"]), path
        if path.startswith("/skus"):
            first_day = pd.Timestamp(cutoffs[run_id]) + pd.Timedelta(days=1)
            assert body["forecast"][0]["date"] == str(first_day.date())
    assert seen == {before, after["run_id"]}, seen


def test_why_says_what_moved_since_the_previous_plan(api):
    """After the second reforecast (the test above), each SKU's why compares it with the first plan."""
    latest = api.json("/latest")
    assert latest["data_cutoff"] == "2024-06-20", "runs after the publication test"
    for sku in SKUS:
        why = api.json(f"/skus/{q(sku)}/why")["why"]
        numbers = why["numbers"]
        assert numbers["previous_model"] == "ets" and numbers["recent_days"] == 14
        assert numbers["previous_forecast_30d_daily"] > 0 and numbers["previously_expected_daily"] > 0
        assert why["moved"] and not any("No previous plan" in s for s in why["moved"])
        assert any("forecast" in s for s in why["moved"]), why["moved"]
    report = (api.base / "runs" / "2024-06-20" / "report.html").read_text()
    section = report[report.index('<section id="why">') :].split("</section>")[0]
    assert "What moved since the previous plan" in section and "Previous plan expected (a day)" in section
    assert "Level " in section and "<script>" not in section  # a hostile code is shown as text


def test_nothing_published_yet_is_503_until_a_plan_is(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        serve_command(tmp_path, f"serve.port={port}"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "FORECAST_API_TOKEN": TOKEN},
    )
    try:
        client, deadline = Api(port, tmp_path), time.time() + 60
        while True:
            try:
                status, _, body = client.get("/health", token=None)
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.2)
        assert status == 200 and json.loads(body) == {"status": "waiting", "plan_loaded": False}
        for path in ("/latest", "/skus/S1", "/plan", "/runs"):
            status, headers, body = client.get(path)
            assert status == 503 and headers["retry-after"] and json.loads(body)["error"].endswith("."), path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_bad_settings_stop_before_serving_with_one_sentence(api, tmp_path):
    def start(*extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            serve_command(tmp_path, *extra),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None},
        )

    missing = start(env={"FORECAST_API_TOKEN": None})
    assert missing.returncode == 2 and "FORECAST_API_TOKEN is not set" in missing.stderr + missing.stdout
    in_config = start(f"+serve.token={TOKEN}", env={"FORECAST_API_TOKEN": TOKEN})
    assert in_config.returncode == 2 and "serve.token is not read" in in_config.stderr + in_config.stdout
    taken = start(f"serve.port={api.url.rsplit(':', 1)[1]}", env={"FORECAST_API_TOKEN": TOKEN})
    assert taken.returncode == 2 and "already in use" in taken.stderr + taken.stdout
    for run in (missing, in_config, taken):
        assert "Traceback" not in run.stderr + run.stdout


@pytest.mark.parametrize(
    "override",
    ["serve.port=0", "serve.port=70000", "serve.port=abc", "serve.max_page_size=0", "serve.page_size=-1",
     "serve.poll_seconds=0", "serve.token_env=1BAD", "serve.public_docs=maybe"],
)  # fmt: skip
def test_a_bad_serve_setting_is_named_with_a_fix_that_passes(override):
    """In process, as tests/test_config_errors.py checks the other sections: one sentence and a working fix."""
    from tests.test_config_errors import config, printed_fix

    with pytest.raises(InputError) as caught:
        check_config(config(override))
    sentence = str(caught.value)
    assert sentence.startswith(override.split("=")[0] + "=") and sentence.endswith("."), sentence
    check_config(config(printed_fix(sentence)))


def test_why_shows_the_shap_drivers_of_a_lightgbm_forecast(tmp_path):
    """A plan forecast by the global boosters: the run keeps each booster and its rows, and the API and the
    report name each SKU's biggest drivers in words, with effects that add up to the forecast served."""
    demand_table().to_parquet(tmp_path / "sales.parquet", index=False)
    run = reforecast(tmp_path, "2024-06-01", models="[lightgbm,lightgbm_level]")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with serving(tmp_path) as api:
        for sku in SKUS:
            body = api.json(f"/skus/{q(sku)}")
            why, days = body["why"], body["forecast"]
            assert body["sku"] == sku and why["model"] in ("lightgbm", "lightgbm_level"), why["model"]
            shap = why["drivers"]
            assert shap["method"].startswith(f"SHAP values of the {why['model']} booster"), shap
            drivers = shap["drivers"]
            assert 1 <= len(drivers) <= 5 and shap["sentence"].startswith(("What moves", "From ")), shap
            sizes = [abs(d["effect"]) for d in drivers]
            assert sizes == sorted(sizes, reverse=True)  # the biggest first
            for d in drivers:  # a planner's words, not the booster's column names
                assert "_" not in d["driver"] and d["features"] and d["driver"] in shap["sentence"], d
            if why["model"] == "lightgbm_level":
                # The start plus the drivers' units (and the rest) is the level the served forecast holds.
                start = shap["start"]
                assert start["driver"].startswith("average demand over the last") and start["units_a_day"] > 0
                first = np.mean([d["mean"] for d in days[:14]])
                assert start["level"] == pytest.approx(first, rel=0.02) and drivers[0]["unit"] == "units a day"
            else:
                assert drivers[0]["unit"] == "share of the forecast" and all(-1 < d["effect"] < 10 for d in drivers)
        assert {api.json(f"/skus/{q(s)}/why")["why"]["model"] for s in SKUS} == {"lightgbm", "lightgbm_level"}
    kept = tmp_path / "runs" / "2024-06-01" / "models"
    assert sum(f.stat().st_size for f in kept.rglob("*") if f.is_file()) < 5 << 20  # small beside the run
    # Computed once by the run (TreeSHAP is slow on a whole plan), so the server only reads them.
    assert {p.parent.parent.name for p in kept.glob("*/explain/drivers.json")} == {"lightgbm", "lightgbm_level"}
    report = (tmp_path / "runs" / "2024-06-01" / "report.html").read_text()
    section = report[report.index('<section id="why">') :].split("</section>")[0]
    assert "Drivers by SHAP value" in section and "LightGBM TreeSHAP" in section and "average demand" in section
