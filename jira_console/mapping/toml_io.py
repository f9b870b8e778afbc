"""TOML import/export of mapping sets: one ``[[mapping]]`` table per mapping, steps as inline tables.

Reading uses ``tomllib``. Writing uses the small emitter below, limited to what mapping data holds (text,
numbers, booleans, lists, tables); ``tomli_w`` is not a dependency. TOML has no null, so ``None`` values are
left out, which for mapping data is the same as absent (a ``default`` of None cannot be expressed).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable
from typing import Any

from jira_console.mapping.errors import MappingDefinitionError
from jira_console.mapping.model import MappingDefinition, parse_definition

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_KEY_ORDER = ("name", "jira_field", "internal_field", "direction", "connection", "strategy", "write")


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_key(str(k))} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _mapping_table(data: dict[str, Any]) -> list[str]:
    lines = ["[[mapping]]"]
    keys = [k for k in _KEY_ORDER if k in data] + [k for k in data if k not in _KEY_ORDER]
    for key in keys:
        value = data[key]
        if value is None:
            continue
        if key in ("steps", "reverse_steps") and value:
            # One step per line: TOML allows newlines inside arrays (not inside inline tables).
            lines.append(f"{key} = [")
            lines.extend(f"  {_value(step)}," for step in value)
            lines.append("]")
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    return lines


def dumps(definitions: Iterable[MappingDefinition]) -> str:
    """The TOML text of a set of mappings (stable: dumping what :func:`loads` read gives the same text)."""
    blocks = ["\n".join(_mapping_table(d.to_data())) for d in definitions]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def loads(text: str) -> list[MappingDefinition]:
    """Mappings from TOML text. Raises :class:`MappingDefinitionError` listing every problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingDefinitionError(None, [f"not valid TOML: {exc}"]) from None
    unknown = sorted(set(doc) - {"mapping"})
    if unknown:
        raise MappingDefinitionError(
            None, [f"unknown top-level keys: {', '.join(unknown)} (expected [[mapping]])"]
        )
    entries = doc.get("mapping", [])
    if not isinstance(entries, list):
        raise MappingDefinitionError(None, ["'mapping' must be an array of tables ([[mapping]])"])
    result: list[MappingDefinition] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            result.append(parse_definition(entry))
        except MappingDefinitionError as exc:
            problems.extend(f"[[mapping]] #{index + 1} {exc.mapping!r}: {p}" for p in exc.problems)
    # A name is unique per scope: the same name may be global and a connection's own, or two connections'.
    scopes = [(d.connection or "", d.name) for d in result]
    problems.extend(
        f"mapping name {n!r} is used twice" + (f" for connection {c!r}" if c else "")
        for c, n in sorted({s for s in scopes if scopes.count(s) > 1})
    )
    if problems:
        raise MappingDefinitionError(None, problems)
    return result
