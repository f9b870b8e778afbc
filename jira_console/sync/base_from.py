"""Where the base of a mapped field came from (``issues.base_from``), so that a mapping change does not turn
Jira's unchanged value into an edit.

A base is kept in the terms of the mapping that read it. After the mapping changes (a lookup dropped, a
step added), Jira's same value reads otherwise, and for a field whose local change waits (a value Jira
refused, an edit not pushed yet) the merge would see both sides moved: a conflict, though nobody changed Jira.
So, each time a base is agreed with Jira, the row keeps for each mapped field a digest of Jira's raw value
together with the base read from it. When a later version carries that same raw value under a base still
equal to the one recorded, Jira has not changed the field: the base is read again under the current
mapping (:func:`reexpress`) and the waiting local change stays what it was. A field with no local change
needs none of this: its local value follows Jira's new reading as before (audited as a mapping change).

The digest covers the raw value without its ``self`` links (a webhook's v2 body and a v3 read of the same
option differ only there) and the base value: a base written since by anything else (a conflict's
resolution, a write not read back) matches only when it is that same value, else the field is compared as
before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import orjson

from jira_console.store.issues import local_value
from jira_console.store.models import Issue
from jira_console.sync.fields import FieldCodec, MappedField
from jira_console.sync.merge import canonical, same


def _without_links(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_links(v) for k, v in value.items() if k != "self"}
    if isinstance(value, list):
        return [_without_links(v) for v in value]
    return value


def digest(raw_value: Any, base_value: Any) -> str | None:
    """The digest of a base read from Jira's ``raw_value``; None for a value it cannot serialise (an integer
    beyond 64 bits), which is then never taken as unchanged."""
    try:
        data = orjson.dumps([_without_links(raw_value), canonical(base_value)], option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _mapped(codecs: Sequence[FieldCodec]) -> list[MappedField]:
    return [c for c in codecs if isinstance(c, MappedField)]


def reexpress(
    row: Issue,
    fields: Mapping[str, Any],
    values: Mapping[str, Any],
    codecs: Sequence[FieldCodec],
    failed: Collection[str] = (),
) -> list[str]:
    """Before a merge of Jira's ``values`` (decoded from the raw ``fields``) into ``row``: the base of each
    mapped field whose local change waits and whose Jira value is the one its base was read from becomes
    that value's reading under the current mapping. Fields in ``failed`` (a mapping error, a default
    standing in) keep their base. Returns the fields re-read."""
    recorded = row.base_from or {}
    if not recorded:
        return []
    base = dict(row.base or {})
    reread: list[str] = []
    for codec in _mapped(codecs):
        name = codec.name
        if name not in values or name in failed or name not in base or name not in recorded:
            continue
        old = base[name]
        if same(values[name], old) or same(local_value(row, name), old):
            continue  # nothing to re-read, or no local change: the merge takes Jira's reading as it is
        if recorded[name] == digest(codec.compiled.raw_value(fields), old):
            base[name] = values[name]
            reread.append(name)
    if reread:
        row.base = base
    return reread


def sources(
    base: Mapping[str, Any],
    fields: Mapping[str, Any],
    values: Mapping[str, Any],
    codecs: Sequence[FieldCodec],
    kept: Mapping[str, str] | None = None,
) -> dict[str, str] | None:
    """``issues.base_from`` for ``base`` after a merge with Jira's ``values`` (decoded from ``fields``): a
    digest for each mapped field whose base is Jira's value; what ``kept`` says of the other mapped fields
    stays (a conflicted field's base still came from where it did)."""
    mapped = _mapped(codecs)
    names = {c.name for c in mapped}
    out = {name: d for name, d in (kept or {}).items() if name in names}
    for codec in mapped:
        name = codec.name
        if name in values and name in base and same(values[name], base[name]):
            found = digest(codec.compiled.raw_value(fields), base[name])
            if found is None:
                out.pop(name, None)
            else:
                out[name] = found
    return out or None


def note(
    row: Issue, fields: Mapping[str, Any], values: Mapping[str, Any], codecs: Sequence[FieldCodec]
) -> None:
    """Record where ``row``'s base came from after a merge with Jira's ``values`` (see :func:`sources`)."""
    found = sources(row.base or {}, fields, values, codecs, row.base_from)
    if found != row.base_from:
        row.base_from = found
