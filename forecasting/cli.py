"""What `run.py` tells a user when a run cannot go on: an exit status and one sentence, never a traceback.

The traceback still matters to whoever fixes a bug, so it goes to the run folder's `run.log` (or, when no run
folder exists yet, to a log file in the temporary directory that the sentence names).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shlex
import signal
import sys
import tempfile
import time
import traceback
from enum import IntEnum
from pathlib import Path

from forecasting.errors import InputError, StorageError

log = logging.getLogger("run")


class ExitStatus(IntEnum):
    """`run.py`'s exit statuses (the README lists them for schedulers)."""

    OK = 0
    INTERNAL = 1  # a bug: the traceback is in run.log
    BAD_INPUT = 2  # data, a plan input, the command line or the config: the sentence says what to fix
    LOCKED = 3  # another reforecast holds the lock
    DRIFT = 4  # the plan was written, but realised accuracy drifted from the backtest's
    STORAGE = 5  # the disk is full or cannot be written: nothing was published half
    INTERRUPTED = 130  # Ctrl-C / SIGINT


_FULL_DISK = {errno.ENOSPC, errno.EDQUOT}


#: set by the SIGINT handler `watch_interrupts` installs
_SIGINT = {"seen": False}


def watch_interrupts() -> None:
    """Remember a Ctrl-C while raising KeyboardInterrupt as Python does: Lightning catches that, tears down and
    ends with sys.exit(1), which `run.py` then reports as the interrupt it was (130), not as a failure."""

    def on_sigint(signum, frame):
        _SIGINT["seen"] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)


def interrupted() -> bool:
    return _SIGINT["seen"]


def _is_config_error(exc: BaseException, composing: bool = False) -> bool:
    """Errors of the command line or the config files, raised by Hydra or OmegaConf while composing.

    While composing (before the task runs), Hydra also raises plain ValueErrors and TypeErrors for overrides
    it cannot apply: those are told apart by where they were raised, not by their type.
    """
    module = type(exc).__module__ or ""
    if module.startswith(("hydra.", "omegaconf.")):
        return True
    frames = traceback.extract_tb(exc.__traceback__) if composing else []
    return bool(frames) and any(f"{os.sep}{pkg}{os.sep}" in frames[-1].filename for pkg in ("hydra", "omegaconf"))


def _first_line(text: str, limit: int = 300) -> str:
    """The message on one line (Hydra puts its fix, e.g. "To append to your config use +foo=1", on a second)."""
    # OmegaConf appends its own diagnostics (full_key, object_type): not for a user.
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    line = " ".join(p for p in parts if not p.startswith(("full_key:", "object_type=", "reference_type=")))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _unparsed_override(override: str) -> str:
    """The sentence for a `key=value` Hydra's override grammar cannot read, with the value quoted as it would read
    it: a path with a space or brackets, a separator such as `;`, a value with `=`."""
    key, sep, value = override.partition("=")
    if not sep:
        return f"the command line has {override!r}, which is not key=value; write e.g. data.path=/path/to/sales.csv."
    if value.lstrip().startswith(("[", "{")):
        return (
            f"the override {key}= cannot be read: {value!r} is not a whole list; close its brackets and quote items "
            f"that hold spaces or commas, e.g. \"{key}=[store,'item code']\"."
        )
    return (
        f"the override {key}= cannot be read: its value {value!r} holds characters the command line's grammar "
        f"reserves (spaces, brackets, ;, =, quotes); quote the value: {quoted_override(key, value)}"
    )


def quoted_override(key: str, value: str) -> str:
    """`key=value` as a shell argument Hydra reads back as `value`, whatever it holds: the value in Hydra's double
    quotes (a quote, and backslashes before one or at the end, escaped: elsewhere Hydra keeps a backslash as it
    is), the whole in the shell's single quotes (shlex.quote), so that nothing in a file's name (`$`, a backtick)
    is expanded or run when the fix is pasted."""
    escaped = re.sub(r'(\\+)(?="|$)', lambda m: m.group(1) * 2, value).replace('"', '\\"')
    return shlex.quote(f'{key}="{escaped}"')


def describe_failure(exc: BaseException, composing: bool = False) -> tuple[ExitStatus, str]:
    """The exit status and the one sentence a user sees for `exc` (`composing`: met outside the task, while
    Hydra read the command line and the config)."""
    from omegaconf.errors import MissingMandatoryValue

    if isinstance(exc, InputError):
        return ExitStatus.BAD_INPUT, str(exc)
    if isinstance(exc, StorageError):
        return ExitStatus.STORAGE, str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED, "interrupted; nothing half-written was published, rerun the same command."
    if isinstance(exc, MissingMandatoryValue):
        key = getattr(exc, "full_key", None) or "a required setting"
        example = "/path/to/sales.csv" if key == "data.path" else "<value>"
        return ExitStatus.BAD_INPUT, f"{key} is missing: add {key}={example} to the command."
    if isinstance(exc, OSError) and exc.errno in StorageError.FIXES:  # the errnos that mean "storage refused"
        where = exc.filename or "the run folder"
        if exc.errno in _FULL_DISK:
            why, fix = "the disk is full", "free space on that disk"
        else:
            why, fix = f"it cannot be written ({exc.strerror})", "grant write access"
        return (
            ExitStatus.STORAGE,
            f"could not write {where}: {why}; {fix} or write elsewhere with hydra.run.dir=/other/folder, then "
            "rerun (no half-written file was left under a final name).",
        )
    if type(exc).__name__ == "MisconfigurationException":  # Lightning's: a trainer setting this machine refuses
        return (
            ExitStatus.BAD_INPUT,
            f"the trainer settings do not work here: {_first_line(exc)} (the trainer.* settings; conf/trainer/).",
        )
    if type(exc).__name__ == "OverrideParseException" and getattr(exc, "override", None):
        return ExitStatus.BAD_INPUT, _unparsed_override(str(exc.override))
    if _is_config_error(exc, composing):
        message = _first_line(exc)
        cause = exc.__cause__
        if cause is not None and _first_line(cause) and _first_line(cause) not in message:
            message = f"{message} {_first_line(cause)}"
        return ExitStatus.BAD_INPUT, f"the command line or config is invalid: {message} (see `python run.py --help`)."
    return (
        ExitStatus.INTERNAL,
        f"unexpected {type(exc).__name__}: {_first_line(exc) or 'no message'}; this is a bug, please report it "
        "with the traceback from the log",
    )


def log_traceback_to_file(exc: BaseException) -> Path | None:
    """Write `exc`'s traceback to the run's log files only (the console shows one sentence).

    Without a file handler (Hydra had not made the run folder yet), a log in the temporary directory takes it.
    """
    record = log.makeRecord(
        log.name, logging.ERROR, __file__, 0, "traceback of the failure above:", (), (type(exc), exc, exc.__traceback__)
    )
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    for handler in files:
        handler.handle(record)
    if files:
        return Path(files[0].baseFilename)
    path = Path(tempfile.gettempdir()) / f"forecasting-error-{time.strftime('%Y%m%d-%H%M%S')}.log"
    try:
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        handler.handle(record)
        handler.close()
    except OSError:
        return None
    return path


def _options(conf_dir: Path, group: str) -> list[str]:
    # Sweeps write tuned configs under experiments/ (a Hydra search path of conf/config.yaml).
    dirs = [conf_dir / group, Path("experiments") / group]
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})


# Settings that became config groups: Hydra would refuse the old key with advice to add it with `+`, where
# nothing reads it.
MOVED = {
    "trainer.patience": "set callbacks.early_stopping.patience instead (conf/callbacks/)",
    "trainer.min_delta": "set callbacks.early_stopping.min_delta instead (conf/callbacks/)",
    "trainer.tensorboard": "choose logger=csv for CSV logs only, or logger=default for CSV and TensorBoard "
    "(conf/logger/)",
}


# Hydra's own command-line flags that take a value after "=" (python run.py --help lists them).
HYDRA_FLAGS = {"config-path", "config-name", "config-dir", "cfg", "package", "info", "experimental-rerun"}


def check_group_overrides(argv: list[str], conf_dir: str | Path) -> None:
    """Stop on a config-group choice that does not exist (`model=[prophet]`), naming the choices there are, and on
    a setting that moved into a group (MOVED).

    Hydra's own message for either names no fix; this runs before Hydra starts.
    """
    conf_dir = Path(conf_dir)
    groups = {p.name for p in conf_dir.iterdir() if p.is_dir()}
    for arg in argv:
        flag = arg.lstrip("-").split("=", 1)[0]
        if arg.startswith("--") and "=" in arg and flag not in HYDRA_FLAGS:
            # argparse would say "unrecognized arguments" and name no fix: settings take no dashes.
            _refuse(f"settings are written without dashes: {arg.lstrip('-')} instead of {arg}.")
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        deleting = key.startswith("~")
        key = key.lstrip("+~").split("@", 1)[0]
        if key in MOVED:
            _refuse(f"{key} is no longer a setting: {MOVED[key]}.")
        if key not in groups or any(ch in value for ch in "$(*"):
            continue
        if "null" in (v.strip() for v in value.strip("[]").split(",")) and not deleting:
            # Hydra stops on it with a ValueError that reads like a bug; a group takes one of its files.
            options = _options(conf_dir, key)
            _refuse(
                f"{key}={value} is not allowed: null is no option of config group {key}, which takes files of "
                f"conf/{key}/ ({', '.join(options) or 'none'}); leave {key}={value} out of the command to keep the "
                "default" + (f", or choose one, e.g. {key}={options[0]}." if options else ".")
            )
        for choice in (v.strip() for v in value.strip("[]").split(",")):
            if not choice or choice == "null":
                continue
            options = _options(conf_dir, key)
            if choice not in options:
                sentence = (
                    f"{key} '{choice}' is unknown; choose from: {', '.join(options) or '(none)'} "
                    f"(one YAML file each in conf/{key}/)."
                )
                _refuse(sentence)


def _refuse(sentence: str) -> None:
    print(f"error: {sentence}", file=sys.stderr)
    raise SystemExit(ExitStatus.BAD_INPUT)
