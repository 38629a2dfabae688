"""The last good plan at a fixed path (`experiments/latest`): published all or nothing, checked on every run.

`latest` is a symbolic link to a hidden sibling folder that holds one complete set of files. A new set is
copied into a fresh folder, flushed to disk and checked against its checksums before the link is swapped in
one rename, so a full or read-only disk fails before anything a reader sees has changed, and a reader never
sees half of one set and half of another. The checksums are kept in the warehouse, so a later run can tell a
missing or altered file and copy the set again from its run folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from forecasting.errors import StorageError

PUBLISHED = ("plan.csv", "forecast.parquet", "report.html", "plan.xlsx")
SOURCE = "SOURCE.json"  # which run the set came from: written from the warehouse's record, so it is checkable too


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def checksums(run_dir: str | os.PathLike) -> pd.DataFrame:
    """name, sha256 and bytes of each file of a run folder that gets published."""
    folder = Path(run_dir)
    rows = [
        {"name": name, "sha256": file_digest(folder / name), "bytes": (folder / name).stat().st_size}
        for name in PUBLISHED
        if (folder / name).is_file()
    ]
    return pd.DataFrame(rows, columns=["name", "sha256", "bytes"])


def source_document(source: dict) -> bytes:
    return (json.dumps(source, indent=2, sort_keys=True, default=str) + "\n").encode()


def differences(folder: str | os.PathLike, files: pd.DataFrame, source: dict | None = None) -> list[str]:
    """Names of `files` (and of SOURCE.json when `source` is given) missing from `folder` or not as recorded."""
    folder = Path(folder)
    bad = [
        row.name
        for row in files.itertuples(index=False)
        if not (folder / row.name).is_file()
        or (folder / row.name).stat().st_size != row.bytes
        or file_digest(folder / row.name) != row.sha256
    ]
    if source is not None:
        doc = folder / SOURCE
        if not doc.is_file() or doc.read_bytes() != source_document(source):
            bad.append(SOURCE)
    return bad


def publish(run_dir: str | os.PathLike, target: str | os.PathLike, files: pd.DataFrame, source: dict) -> None:
    """Replace the set at `target` with `files` of `run_dir`, all or nothing; StorageError names a failed write."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.staged-", dir=target.parent))
    except OSError as exc:
        raise (StorageError.from_os_error(exc, target) or exc) from exc
    try:
        for row in files.itertuples(index=False):
            shutil.copyfile(Path(run_dir) / row.name, staged / row.name)
        (staged / SOURCE).write_bytes(source_document(source))
        for path in staged.iterdir():
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())  # on disk before the swap, or a power cut could publish empty files
        bad = differences(staged, files, source)
        if bad:
            raise RuntimeError(f"{', '.join(bad)} changed while being copied from {run_dir}; nothing was published")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staged, 0o777 & ~umask)  # mkdtemp makes an owner-only folder; planners read this one
        swap(staged, target)
    except BaseException as exc:
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError):
            raise (StorageError.from_os_error(exc, target) or exc) from exc
        raise
    for old in target.parent.glob(f".{target.name}.staged-*"):
        if old != staged:  # sets no link points at any more, and the leftovers of a killed run
            shutil.rmtree(old, ignore_errors=True)


def swap(staged: Path, target: Path) -> None:
    """Point `target` at `staged` in one rename (a folder from before the link is moved aside first)."""
    aside = None
    if target.exists() and not target.is_symlink():
        aside = target.parent / f".{target.name}.staged-previous-{os.getpid()}"
        os.rename(target, aside)
    link = target.parent / f".{target.name}.link-{os.getpid()}"
    try:
        link.unlink(missing_ok=True)
        os.symlink(staged.name, link)  # relative, so the experiments folder can be moved or mounted elsewhere
        os.replace(link, target)
    except BaseException:
        link.unlink(missing_ok=True)
        if aside is not None:
            os.rename(aside, target)
        raise
