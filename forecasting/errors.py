"""User-facing errors: one sentence that names the problem and the fix, shown without a traceback."""


class InputError(ValueError):
    """Bad input data or configuration; `run.py` prints the message and exits with status 2."""
