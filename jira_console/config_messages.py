"""How a configuration that does not validate is told: one line (scripts read the first line of stderr),
each problem as ``key: what is wrong``, and a misspelt key with the known key closest to it."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ValidationError


def _closest_key(loc: tuple[int | str, ...], root: type[BaseModel]) -> str | None:
    """The known key of the same table closest to the unknown one at ``loc`` (a typo), if any is close."""
    model: type[BaseModel] = root
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an index into a list of tables ([[jira]])
        field = model.model_fields.get(part)
        kinds = [field.annotation, *get_args(field.annotation)] if field else []
        inner = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
        if inner is None:
            return None
        model = inner
    found = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.75)
    return found[0] if found else None


def validation_message(err: ValidationError, path: Path | None, root: type[BaseModel]) -> str:
    """One line (scripts read the first line of stderr): each problem as ``key: what is wrong``."""
    where = str(path) if path else "configuration"
    problems = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        msg = " ".join(item["msg"].removeprefix("Value error, ").split())
        if item["type"] == "extra_forbidden":
            near = _closest_key(item["loc"], root)
            msg = f"unknown key; did you mean {near}?" if near else "unknown key"
            msg += " (see config.example.toml for the keys)"
        problems.append(f"{loc}: {msg}")
    return f"{where}: invalid configuration: " + "; ".join(problems)
