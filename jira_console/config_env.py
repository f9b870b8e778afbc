"""Environment overrides over the configuration file: ``JIRA_CONSOLE_<SETTING>`` variables (read with
pydantic-settings, see :func:`env_overrides`) and items of the connection list
(``JIRA_CONSOLE_JIRA__0__URL``).

pydantic-settings reads ``JIRA_CONSOLE_JIRA__0__URL`` as a dict ``{"0": {"url": …}}`` that would replace the
whole ``[[jira]]`` list (and fail validation); instead such variables are applied to that connection of the
file, and a next index adds a connection (:func:`merge_list_env`).

The models' true-or-false settings take booleans only, as a TOML file writes them (a quoted ``"no"`` there
is a mistake to report); a variable's text for one is read here as pydantic's lax mode reads it
(:func:`env_bools`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def env_overrides(
    model: type[BaseModel], data: dict[str, Any], environ: Mapping[str, str], prefix: str
) -> dict[str, Any]:
    """``data`` (the file's settings) with the process environment's ``PREFIX<FIELD>[__<KEY>…]`` variables
    over it (``environ`` is that environment, as the caller read it).

    pydantic-settings reads the variables (nesting on ``__``, JSON for lists and tables, names in any case);
    it is imported only when a variable names one of ``model``'s fields, so a run configured by its file
    alone does not pay for it (about a tenth of a simple command's start-up). List items
    (``JIRA_CONSOLE_JIRA__0__URL``) are :func:`merge_list_env`'s: pydantic-settings would read them as a
    table replacing the whole list."""
    unknown_sections(model, environ, prefix)
    heads = {f"{prefix}{name}".upper() for name in model.model_fields}
    if not any(name.upper().split("__", 1)[0] in heads for name in environ):
        return data
    from pydantic import create_model
    from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

    class _Env(BaseSettings):
        model_config = SettingsConfigDict(extra="ignore")

    # The same fields without their validation: the source needs their names and types only.
    fields: dict[str, Any] = {name: (f.annotation, None) for name, f in model.model_fields.items()}
    reader = create_model("EnvironmentSettings", __base__=_Env, **fields)
    source = EnvSettingsSource(
        reader, case_sensitive=False, env_prefix=prefix, env_nested_delimiter="__", env_parse_none_str=None
    )
    found = dict(source())
    if isinstance(found.get("jira"), dict):
        found.pop("jira")
    return _deep_merge(data, env_bools(model, found, prefix.upper()))


def unknown_sections(model: type[BaseModel], environ: Mapping[str, str], prefix: str) -> None:
    """ValueError naming a ``PREFIX<SECTION>__<KEY>`` variable whose section no setting has (a typo such as
    ``JIRA_CONSOLE_DATABSE__URL``), with the closest one: as a file's unknown table is refused rather than
    left to do nothing. A variable without ``__`` is not an override (``JIRA_CONSOLE_API_TOKEN``)."""
    import difflib

    known = list(model.model_fields)
    for name in sorted(environ):
        head, nested, rest = name[len(prefix) :].partition("__")
        if not name.upper().startswith(prefix.upper()) or not nested or head.lower() in known:
            continue
        near = difflib.get_close_matches(head.lower(), known, n=1, cutoff=0.75)
        meant = f"; did you mean {prefix}{near[0].upper()}__{rest}?" if near else ""
        raise ValueError(f"{name}: no setting {head.lower()!r}{meant} (see config.example.toml for the keys)")


def variable_of(loc: tuple[int | str, ...], environ: Mapping[str, str], prefix: str) -> str | None:
    """The environment variable that set the key at ``loc`` (``JIRA_CONSOLE_DATABASE__URL`` for
    ``database.url``), when one did: a problem with that key is the variable's, not the file's."""
    wanted = (prefix + "__".join(str(part) for part in loc)).upper()
    return next((name for name in environ if name.upper() == wanted), None)


def env_bools(model: type[BaseModel], values: Mapping[str, Any], names: str) -> dict[str, Any]:
    """``values`` the environment gives ``model`` (tables and lists of tables included), each text given to a
    true-or-false setting read the way pydantic's lax mode reads one (``true``/``false``, ``yes``/``no``,
    ``on``/``off``, ``1``/``0``, any case). The models take booleans only, as the TOML file writes them; an
    environment variable is always text. ValueError names the variable (``names`` is its prefix) of a text
    that is none of those."""
    from pydantic import TypeAdapter, ValidationError

    from jira_console.config_messages import table_model

    out = dict(values)
    for key, value in values.items():
        field = model.model_fields.get(key)
        inner = table_model(field.annotation) if field is not None else None
        name = f"{names}{key.upper()}"
        if field is not None and field.annotation is bool and isinstance(value, str):
            try:
                out[key] = TypeAdapter(bool).validate_python(value)
            except ValidationError:
                said = "takes true or false (or yes/no, on/off, 1/0)"
                raise ValueError(f"{name}: {said}, got {value!r}") from None
        elif inner is not None and isinstance(value, Mapping):
            out[key] = env_bools(inner, value, f"{name}__")
        elif inner is not None and isinstance(value, list):
            out[key] = [
                env_bools(inner, item, f"{name}__{i}__") if isinstance(item, Mapping) else item
                for i, item in enumerate(value)
            ]
    return out


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_LIST_ITEM_ENV = re.compile(r"^JIRA_CONSOLE_JIRA__(\d+)__([A-Za-z0-9_]+)$", re.IGNORECASE)


def _env_value(raw: str) -> Any:
    if raw.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def merge_list_env(
    data: dict[str, Any], environ: Mapping[str, str], connection: type[BaseModel]
) -> dict[str, Any]:
    """``data`` with ``JIRA_CONSOLE_JIRA__<n>__<KEY>`` variables applied to connection ``n`` of the file
    (``n`` equal to the number of connections adds one; ``connection`` is its model, whose true-or-false
    settings take the usual spellings, see :func:`env_bools`). A token given so comes from the environment,
    so it is not refused as an inline token."""
    items: dict[int, dict[str, Any]] = {}
    for name, raw in environ.items():
        match = _LIST_ITEM_ENV.match(name)
        if match:
            items.setdefault(int(match.group(1)), {})[match.group(2).lower()] = _env_value(raw)
    if not items:
        return data
    listed = data.get("jira", [])
    if not isinstance(listed, list):
        raise ValueError("jira: must be a list of [[jira]] tables")
    merged = [dict(item) if isinstance(item, Mapping) else item for item in listed]
    for index in sorted(items):
        if index > len(merged):
            raise ValueError(
                f"JIRA_CONSOLE_JIRA__{index}__*: there are {len(merged)} connections; "
                f"number a new one {len(merged)}"
            )
        if index == len(merged):
            merged.append({})
        if not isinstance(merged[index], dict):
            raise ValueError(f"jira.{index}: must be a table")
        merged[index].update(env_bools(connection, items[index], f"JIRA_CONSOLE_JIRA__{index}__"))
        if "token" in items[index]:
            merged[index]["allow_inline_token"] = True
    return {**data, "jira": merged}
