"""The scheduled reforecast heals: published files put back, a damaged warehouse recovered, a full or read-only
disk reported in one sentence with nothing published half, and every warehouse table there from the first run.
Real `run.py` processes on real files; the full disk is a real tmpfs where this machine lets a test mount one."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from forecasting.errors import StorageError
from forecasting.storage import publish as publishing
from forecasting.storage.publish import checksums, differences, publish
from tests.test_reforecast import demand_file, run, runs, start, wait_for
from tests.test_run import ROOT

PUBLISHED = ("plan.csv", "forecast.parquet", "report.html", "plan.xlsx")


def output(res: subprocess.CompletedProcess) -> str:
    return res.stdout + res.stderr


def ok(res: subprocess.CompletedProcess) -> None:
    assert res.returncode == 0, output(res)[-3000:]


def source_run_dir(latest: Path) -> Path:
    return Path(json.loads((latest / "SOURCE.json").read_text())["run_dir"])


def assert_latest_is(latest: Path, run_dir: Path) -> None:
    for name in PUBLISHED:
        assert (latest / name).read_bytes() == (run_dir / name).read_bytes(), name
    assert source_run_dir(latest) == run_dir


def test_deleted_or_altered_published_files_are_restored_even_with_nothing_to_do(tmp_path):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    latest = tmp_path / "latest"
    first = source_run_dir(latest)
    (latest / "plan.csv").unlink()
    (latest / "report.html").write_text("<html>edited by hand</html>")
    again = run(tmp_path, data)
    ok(again)
    assert "nothing to do" in output(again)
    assert re.search(r"plan.csv, report.html missing or altered; restored from run", output(again))
    assert_latest_is(latest, first)

    shutil.rmtree(latest.resolve())  # the whole published folder gone
    ok(run(tmp_path, data))
    assert_latest_is(latest, first)
    assert len(runs(tmp_path)) == 1  # restoring is not reforecasting


def test_file_lost_from_the_run_folder_too_reforecasts_the_cutoff(tmp_path):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    latest = tmp_path / "latest"
    first = source_run_dir(latest)
    (latest / "plan.csv").unlink()
    (first / "plan.csv").unlink()
    res = run(tmp_path, data)
    ok(res)
    assert "lost plan.csv too: reforecasting to publish a new plan" in output(res)
    table = runs(tmp_path)
    assert list(table["status"]) == ["complete", "complete"]
    assert_latest_is(latest, Path(table["run_dir"].iloc[-1]))


def test_run_killed_after_its_commit_is_published_by_the_next_run(tmp_path):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    latest = tmp_path / "latest"
    log = tmp_path / "killed.log"
    proc = start(tmp_path, data, log, "reforecast.force=true", env={"FORECASTING_PAUSE_AT": "committed"})
    wait_for(log, "paused at committed", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    table = runs(tmp_path)
    assert list(table["status"]) == ["complete", "complete"]
    assert source_run_dir(latest) == Path(table["run_dir"].iloc[0])  # still the first run's whole set

    res = run(tmp_path, data)
    ok(res)
    assert "nothing to do" in output(res)
    assert_latest_is(latest, Path(table["run_dir"].iloc[1]))


def damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "truncated":
        with open(path, "r+b") as handle:
            handle.truncate(size // 2)
    elif how == "zero_bytes":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(size))


@pytest.mark.parametrize("how", ["truncated", "zero_bytes", "random_bytes"])
def test_damaged_warehouse_says_how_to_recover_and_recover_restores_the_verified_copy(tmp_path, how):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    warehouse = tmp_path / "wh.duckdb"
    assert (tmp_path / "wh.duckdb.backup").is_file()
    damage(warehouse, how)
    damaged = warehouse.read_bytes()

    res = run(tmp_path, data)
    assert res.returncode == 2, output(res)[-3000:]
    assert "Traceback" not in output(res)
    assert f"the warehouse {warehouse} is damaged and does not open" in output(res)
    assert "`python run.py experiment=reforecast reforecast.recover=true` sets it aside and restores" in output(res)

    recovered = run(tmp_path, data, None, "reforecast.recover=true")
    ok(recovered)
    assert "restored the verified copy" in output(recovered) and "nothing to do" in output(recovered)
    (aside,) = tmp_path.glob("wh.duckdb.corrupt-*")
    assert aside.read_bytes() == damaged  # the damaged file is kept for a post-mortem, never deleted
    assert list(runs(tmp_path)["status"]) == ["complete"]
    ok(run(tmp_path, demand_file(tmp_path, days=215)))  # and the warehouse goes on: a new cut-off adds a run
    assert list(runs(tmp_path)["status"]) == ["complete", "complete"]


def test_damaged_warehouse_without_a_copy_starts_empty_and_keeps_the_damaged_file(tmp_path):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    (tmp_path / "wh.duckdb.backup").unlink()
    damage(tmp_path / "wh.duckdb", "random_bytes")
    res = run(tmp_path, data)
    assert res.returncode == 2 and "sets it aside and starts an empty warehouse" in output(res)
    recovered = run(tmp_path, data, None, "reforecast.recover=true")
    ok(recovered)
    assert "no verified copy, so a new empty one starts" in output(recovered)
    assert len(list(tmp_path.glob("wh.duckdb.corrupt-*"))) == 1
    assert list(runs(tmp_path)["status"]) == ["complete"]


def test_warehouse_open_in_another_program_is_a_lock_not_damage(tmp_path):
    data = demand_file(tmp_path)
    ok(run(tmp_path, data))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(tmp_path / 'wh.duckdb')!r}); print('open', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        res = run(tmp_path, data)
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 3, output(res)[-3000:]
    assert "is open in another program" in output(res) and "Traceback" not in output(res)
    assert not list(tmp_path.glob("wh.duckdb.corrupt-*"))


def readme_queries() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Scheduled reforecasting", 1)[1].split("\n## ", 1)[0]
    sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    statements = [s.strip() for s in sql.split(";")]
    return [s for s in statements if s and not all(line.startswith("--") for line in s.splitlines())]


def test_every_table_and_the_readme_queries_work_after_the_first_run(tmp_path):
    data = demand_file(tmp_path)  # generated data: no descriptions, no earlier forecasts to measure
    ok(run(tmp_path, data))
    queries = readme_queries()
    assert any("FROM accuracy" in q for q in queries)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert {"runs", "forecasts", "plans", "metrics", "accuracy", "champions", "published"} <= tables
        for query in queries:
            con.execute(query).fetchall()
        assert con.execute("SELECT count(*) FROM accuracy").fetchall()[0][0] == 0
        columns = {c for (c,) in con.execute("SELECT column_name FROM (DESCRIBE forecasts)").fetchall()}
        assert {"p5", "p50", "p95"} <= columns  # the configured quantiles, added when first written


# --- a full or read-only disk ------------------------------------------------------------------------------


def published_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir(parents=True)
    for name in PUBLISHED:
        (run_dir / name).write_bytes(os.urandom(2000) + name.encode())
    return run_dir


@pytest.mark.parametrize(
    ("failing", "code", "words"),
    [("copyfile", errno.ENOSPC, "no space left on device"), ("symlink", errno.EROFS, "read-only file system")],
)
def test_failed_write_publishes_nothing_and_names_the_path(tmp_path, monkeypatch, failing, code, words):
    old, new = published_run(tmp_path / "a"), published_run(tmp_path / "b")
    target = tmp_path / "latest"
    publish(old, target, checksums(old), {"run_dir": str(old)})
    copies = []

    def fail_on_third(src, dst, *a, **k):
        copies.append(dst)
        if len(copies) == 3:
            raise OSError(code, os.strerror(code), str(dst))
        return shutil.copyfile(src, dst, *a, **k)

    def fail(*a, **k):
        raise OSError(code, os.strerror(code), str(a[-1]))

    if failing == "copyfile":
        monkeypatch.setattr(publishing.shutil, "copyfile", fail_on_third)
    else:
        monkeypatch.setattr(publishing.os, "symlink", fail)
    with pytest.raises(StorageError) as caught:
        publish(new, target, checksums(new), {"run_dir": str(new)})
    assert caught.value.path == str(target) and caught.value.errno == code
    assert str(caught.value).startswith(f"could not write {target}: {words};")
    assert differences(target, checksums(old), {"run_dir": str(old)}) == []  # the old set, whole
    assert [p.name for p in tmp_path.glob(".latest*")] == [os.readlink(target)]  # no half-staged folder left


def test_publish_replaces_a_plain_folder_from_before_the_link(tmp_path):
    old, new = published_run(tmp_path / "a"), published_run(tmp_path / "b")
    target = tmp_path / "latest"
    shutil.copytree(old, target)  # what earlier versions left: a real folder
    publish(new, target, checksums(new), {"run_dir": str(new)})
    assert target.is_symlink() and differences(target, checksums(new), {"run_dir": str(new)}) == []
    assert [p.name for p in tmp_path.glob(".latest*")] == [os.readlink(target)]


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB file system (tmpfs), where this machine lets the test mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    filler = mount / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.parametrize("disk", ["full", "read_only"])
def test_full_or_read_only_disk_exits_5_with_one_sentence_and_the_next_run_publishes(tmp_path, small_disk, disk):
    data = demand_file(tmp_path)
    latest = small_disk / "latest"
    ok(run(tmp_path, data, None, f"reforecast.publish_dir={latest}"))
    before = {name: (latest / name).read_bytes() for name in PUBLISHED}
    if disk == "full":
        filler = fill(small_disk)
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)

    res = run(tmp_path, data, None, f"reforecast.publish_dir={latest}", "reforecast.force=true")
    assert res.returncode == 5, output(res)[-3000:]
    words = "no space left on device" if disk == "full" else "read-only file system"
    assert f"could not write {latest}: {words};" in output(res) and "Traceback" not in output(res)
    assert {name: (latest / name).read_bytes() for name in PUBLISHED} == before  # nothing published half
    assert sorted(p.name for p in small_disk.glob(".latest*")) == [os.readlink(latest)]

    if disk == "full":
        filler.unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    healed = run(tmp_path, data, None, f"reforecast.publish_dir={latest}")
    ok(healed)
    assert "nothing to do" in output(healed)
    assert_latest_is(latest, Path(runs(tmp_path)["run_dir"].iloc[-1]))  # the forced run's plan, published now


def test_storage_error_from_a_duckdb_message():
    error = StorageError.from_message('IO Error: Could not write file "x": No space left on device', "/w/wh.duckdb")
    assert error is not None and error.path == "/w/wh.duckdb"
    assert str(error) == "could not write /w/wh.duckdb: no space left on device; free space there, then run again."
    assert StorageError.from_message("Catalog Error: no such table", "/w") is None
    assert StorageError.from_os_error(OSError(errno.ENOENT, "gone")) is None
