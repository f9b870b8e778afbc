"""How a configuration that does not validate is told: one line (scripts read the first line of stderr),
each problem as ``key: what is wrong`` in words (what the key takes and the value given, unless the key holds
a secret), a misspelt key with the known key closest to it, and a key from other tools' configurations
(``port``, ``password``) with the key that does that here."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from jira_console.redact import is_secret_key

# Keys other tools' configurations use, and the key that does that here (when the table has it).
_KEY_ELSEWHERE = {
    "port": "listen", "host": "listen", "bind": "listen", "address": "listen",
    "password": "token_env", "api_token": "token_env", "secret": "secret_env",
    "interval": "sync_interval_seconds", "schedule": "sync_interval_seconds",
    "dsn": "url", "uri": "url", "base_url": "url", "username": "user", "email": "user",
}  # fmt: skip
_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_TAKES = {
    "int_parsing": "takes a whole number", "int_type": "takes a whole number",
    "int_from_float": "takes a whole number",
    "float_parsing": "takes a number", "float_type": "takes a number",
    "bool_parsing": "takes true or false", "bool_type": "takes true or false",
    "string_type": "takes a text in quotes",
}  # fmt: skip


def table_model(annotation: Any) -> type[BaseModel] | None:
    """The table (model) a key's annotation names, itself or as the item of a list (``[[jira]]``)."""
    kinds = [annotation, *get_args(annotation)]
    return next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)


def _model_at(loc: tuple[int | str, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The table (model) that holds the key at ``loc``."""
    model: type[BaseModel] = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an index into a list of tables ([[jira]])
        field = model.model_fields.get(part)
        inner = table_model(field.annotation) if field else None
        if inner is None:
            return None
        model = inner
    return model


def _unknown_key(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    model = _model_at(loc, root)
    known = list(model.model_fields) if model else []
    key = str(loc[-1])
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    elsewhere = _KEY_ELSEWHERE.get(key.lower())
    if near:
        return f"unknown key; did you mean {near[0]}? (see config.example.toml for the keys)"
    if elsewhere in known:
        return f"unknown key; here that is {elsewhere} (see its comment in config.example.toml)"
    return "unknown key (see config.example.toml for the keys)"


def _problem(item: Any, root: type[BaseModel]) -> str:
    loc = item["loc"]
    kind = item["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc, root)
    msg = " ".join(item["msg"].removeprefix("Value error, ").split())
    key = str(loc[-1]) if loc else ""
    value = item.get("input")
    if kind == "bool_type" and isinstance(value, str):
        msg = "takes true or false without quotes (a TOML boolean)"  # lax parsing would guess "no" or "off"
    elif kind in _TAKES:
        msg = _TAKES[kind] + (" of seconds, e.g. 300" if key.endswith("_seconds") else "")
    elif kind == "string_pattern_mismatch" and (item.get("ctx") or {}).get("pattern") == _NAME_PATTERN:
        msg = "takes letters, digits, '_', '.' and '-' only (1 to 64 of them)"
    elif kind == "missing":
        return "missing (it is required)"
    if kind != "value_error" and not is_secret_key(key) and isinstance(value, str | int | float | bool):
        shown = repr(value)
        msg += f", got {shown if len(shown) <= 60 else shown[:57] + '...'}"
    return msg


def validation_message(
    err: ValidationError,
    path: Path | None,
    root: type[BaseModel],
    variable_of: Callable[[tuple[int | str, ...]], str | None] = lambda _loc: None,
) -> str:
    """One line (scripts read the first line of stderr): each problem as ``key: what is wrong``, naming the
    environment variable that set the key when one did (``variable_of``), since the file does not hold it."""
    where = str(path) if path else "configuration"
    problems = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        variable = variable_of(tuple(item["loc"])) if item["loc"] else None
        if variable is not None:
            loc += f" (environment variable {variable})"
        problems.append(f"{loc}: {_problem(item, root)}")
    return f"{where}: invalid configuration: " + "; ".join(problems)
