"""Config settings written as a user types them: `key=value` that a POSIX shell hands to Hydra intact.

A fix in a message is only a fix if it works when pasted: the shell strips one level of quotes, and Hydra's
override grammar refuses a bare `,` or `;` and reads a space as the end of the value. So any value that is not
plain is quoted twice, shell quotes around Hydra quotes: "data.read_options.decimal=','".
"""

from __future__ import annotations

import re

from forecasting.errors import InputError

# What both the shell and Hydra's grammar take unquoted (a date, a path, a column name, a number).
PLAIN = re.compile(r"[A-Za-z0-9_./:+-]+")


def override(key: str, value) -> str:
    """`key=value` as typed at a shell prompt, e.g. override('data.read_options.sep', ';') -> "data...sep=';'"."""
    if value is None:
        return f"{key}=null"
    text = str(value)
    if PLAIN.fullmatch(text) and text.lower() not in ("null", "true", "false"):
        return f"{key}={text}"
    return _shell_quoted(f"{key}={_hydra_quoted(text)}")


def list_override(key: str, values) -> str:
    """`key=[...]` of strings as typed at a shell prompt, each a Hydra quoted string (a '+' before the key adds
    one the config does not declare: "+data.read_options.na_values=['n.a.']")."""
    return _shell_quoted(f"{key}=[{','.join(_hydra_quoted(str(v)) for v in values)}]")


def _hydra_quoted(text: str) -> str:
    # Hydra's quoted string: a backslash and the quote itself escaped.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _shell_quoted(text: str) -> str:
    # The shell's double quotes, which leave all but $ ` \ " alone.
    return '"' + re.sub(r'([$`"\\])', r"\\\1", text) + '"'


def setting_choice(value, key: str, allowed: tuple[str, ...]) -> str:
    """A `data.<key>` setting that names one of `allowed` (the first is the default, taken where it is unset), in
    any case and spacing; anything else stops the run naming the choices."""
    choice = allowed[0] if value is None else str(value).strip().lower()
    if choice not in allowed:
        raise InputError(f"data.{key} is '{value}'; use one of {', '.join(allowed)}.")
    return choice
