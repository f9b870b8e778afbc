"""The synced fields of an issue and how each is read from and written to Jira.

Core fields live in columns of ``issues`` (a fixed contract for host programs); mapped fields live in the
``issues.fields`` JSON dict and are converted by :mod:`jira_console.mapping`. Both expose the same small
protocol (:class:`FieldCodec`), so the sync engine treats every field alike: ``from_jira`` turns the raw Jira
``fields`` dict into the canonical local value, ``to_jira`` turns a local value into a :class:`Write`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from jira_console.jira import richtext
from jira_console.jira.sprintfield import current_sprint, parse_sprint_value
from jira_console.mapping.compiled import JiraWrite as Write
from jira_console.store.issues import local_value_problem, shown_value

Flavor = Literal["cloud", "server"]

RICH_TEXT_JIRA_FIELDS = frozenset({"description", "environment"})


class CodecError(Exception):
    """A value could not be converted; the message names the field and the value."""


class FieldCodec(Protocol):
    """What the sync engine needs of a field (core or mapped)."""

    @property
    def name(self) -> str: ...

    @property
    def jira_field(self) -> str: ...

    @property
    def direction(self) -> str: ...

    @property
    def strategy(self) -> str | None: ...

    def from_jira(self, fields: dict[str, Any], ctx: Any) -> Any: ...

    def to_jira(self, value: Any, ctx: Any) -> Any: ...


@dataclass(frozen=True)
class CodecContext:
    """Per-connection facts the core codecs need (mapping steps take :class:`MappingContext`)."""

    flavor: Flavor
    previous_fields: Mapping[str, Any] | None = None
    rich_text_policy: richtext.Policy = "preserve"


_JIRA_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_jira_time(value: Any) -> int | None:
    """Jira's ``2025-01-31T14:05:09.123+1100`` (or epoch ms) as epoch milliseconds; None if unparseable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return _parse_time_text(str(value).strip())


@functools.lru_cache(maxsize=8192)
def _parse_time_text(text: str) -> int | None:
    """:func:`parse_jira_time` of a text (kept: a pull reads each issue's ``updated`` several times)."""
    try:
        # Python 3.11 reads Jira's basic-format offsets (+1100) itself, ten times faster than strptime.
        dt = datetime.fromisoformat(text)
    except ValueError:
        m = _JIRA_TIME.match(text)
        if not m:
            return None
        stamp, frac, zone = m.groups()
        zone = "+0000" if not zone or zone == "Z" else zone.replace(":", "")
        dt = datetime.strptime(
            f"{stamp}{frac or ''}{zone}", "%Y-%m-%dT%H:%M:%S" + ("%f" if frac else "") + "%z"
        )
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.replace(microsecond=0).timestamp()) * 1000 + dt.microsecond // 1000


def _name_of(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return obj.get("name") if obj.get("name") is not None else obj.get("value")
    return obj


@dataclass(frozen=True)
class _Core:
    name: str
    jira_field: str
    direction: str = "both"
    strategy: str | None = None

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        return fields.get(self.jira_field)

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        return Write("field", self.jira_field, value)


SUMMARY_MAX = 255
"""Jira refuses a longer summary on every site, Cloud and Server alike ("Summary must be less than 255
characters."): said when the edit is made rather than found at its push, after a conflict was settled."""


class SummaryCodec(_Core):
    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        value = fields.get("summary")
        return None if value is None else str(value)

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise CodecError("summary cannot be empty: Jira requires one")
        if not isinstance(value, str):
            raise CodecError(f"summary holds text, not {shown_value(value)}")
        length = len(value.encode("utf-16-le")) // 2  # Jira counts Java characters (UTF-16 units)
        if length > SUMMARY_MAX:
            raise CodecError(f"summary holds at most {SUMMARY_MAX} characters (Jira's limit), not {length}")
        return Write("field", "summary", value)


class StatusCodec(_Core):
    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        return _name_of(fields.get("status"))

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if not isinstance(value, str) or not value:
            empty = value is None or value == ""
            raise CodecError(
                "status cannot be empty: give a status name"
                if empty
                else f"status holds a status name, not {shown_value(value)}"
            )
        return Write("transition", "status", value)


class NamedObjectCodec(_Core):
    """Fields written as ``{"name": ...}`` (priority)."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        return _name_of(fields.get(self.jira_field))

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        return Write("field", self.jira_field, None if value is None else {"name": str(value)})


class UserCodec(_Core):
    """accountId on Cloud, user name on Server/DC; the local column keeps that identifier."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        user = fields.get(self.jira_field)
        if not isinstance(user, Mapping):
            return None
        if ctx.flavor == "cloud":
            return user.get("accountId")
        return user.get("name") or user.get("key")

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if value is None:
            return Write("field", self.jira_field, None)
        attr = "accountId" if ctx.flavor == "cloud" else "name"
        return Write("field", self.jira_field, {attr: str(value)})


class LabelsCodec(_Core):
    """Labels are a set in Jira: compared and stored sorted so order never looks like a change."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        value = fields.get("labels") or []
        return sorted(str(v) for v in value)

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if value is None:
            value = []
        if not isinstance(value, list | tuple) or any(
            not isinstance(v, str) or not v or " " in v for v in value
        ):
            raise CodecError(
                f'labels must each be a word without spaces (JSON: ["a", "b"]), not {shown_value(value)}'
            )
        return Write("field", "labels", sorted(value))


class RichTextCodec(_Core):
    """ADF (Cloud v3) or wiki markup (Server, and webhook payloads everywhere) <-> Markdown."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        value = fields.get(self.jira_field)
        if value is None:
            return None
        # The representation tells the format: webhooks carry v2 (wiki strings) even on Cloud.
        flavor: Flavor = "cloud" if isinstance(value, Mapping) else "server"
        text = richtext.to_local(flavor, value)
        return text or None

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        previous = (ctx.previous_fields or {}).get(self.jira_field)
        if value is not None and not isinstance(value, str):
            raise CodecError(f"{self.name} must be text, got {type(value).__name__}")
        written = richtext.write_rich_text(ctx.flavor, value or "", previous, ctx.rich_text_policy)
        return Write("field", self.jira_field, written.value, written.message())


class SprintCodec(_Core):
    """The sprint an issue is in (objects on Cloud, legacy strings on Server) <-> a sprint id."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        ref = current_sprint(parse_sprint_value(fields.get(self.jira_field)))
        return ref.id if ref else None

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise CodecError(f"sprint_id must be a sprint id number, got {value!r}") from None
        return Write("sprint", self.jira_field, value)


class NumberCodec(_Core):
    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        value = fields.get(self.jira_field)
        if value is None or isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise CodecError(f"{self.jira_field} is not a number: {value!r}") from None

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise CodecError(f"{self.name} must be a number, got {value!r}") from None
        return Write("field", self.jira_field, value)


@dataclass(frozen=True)
class StoryPointsCodec(NumberCodec):
    """Story points read from and written to the field the issue's board estimates with: ``by_project``
    maps a project key to that field (company-managed boards: the classic "Story Points", team-managed
    ones: "Story point estimate"); other projects use ``jira_field``."""

    by_project: tuple[tuple[str, str], ...] = ()

    @property
    def jira_fields(self) -> tuple[str, ...]:
        """Every field this codec may read (all are requested)."""
        return tuple(dict.fromkeys([self.jira_field, *(f for _p, f in self.by_project)]))

    def field_for(self, fields: Mapping[str, Any]) -> str:
        project = fields.get("project")
        key = project.get("key") if isinstance(project, Mapping) else None
        return dict(self.by_project).get(str(key), self.jira_field) if key else self.jira_field

    def present(self, fields: Mapping[str, Any]) -> bool:
        """Whether the issue's own story-points field is in the payload (absent is not empty)."""
        return self.field_for(fields) in fields

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        return NumberCodec(self.name, self.field_for(fields)).from_jira(fields, ctx)

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        return NumberCodec(self.name, self.field_for(ctx.previous_fields or {})).to_jira(value, ctx)


class ParentCodec(_Core):
    """Cloud: ``parent.key``; Server/DC: the Epic Link custom field (a key string)."""

    def from_jira(self, fields: dict[str, Any], ctx: CodecContext) -> Any:
        value = fields.get(self.jira_field)
        if isinstance(value, Mapping):
            return value.get("key")
        return value or None

    def to_jira(self, value: Any, ctx: CodecContext) -> Write:
        if self.jira_field == "parent":
            return Write("field", "parent", None if value is None else {"key": str(value)})
        return Write("field", self.jira_field, value)


_WRITE_RULES: dict[str, type[_Core]] = {"summary": SummaryCodec, "status": StatusCodec, "labels": LabelsCodec}
"""Core fields whose values Jira refuses on every site whatever its configuration (their codecs' checks)."""


def local_edit_problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be a local edit of the synced field ``name``, or None: the column cannot hold it
    (:func:`~jira_console.store.issues.local_value_problem`), or Jira refuses it on every site (an empty
    summary or status, a label with a space). Said when the edit is made, not found at its push."""
    problem = local_value_problem(name, value)
    rule = _WRITE_RULES.get(name)
    if problem is not None or rule is None:
        return problem
    try:
        rule(name, name).to_jira(value, CodecContext("server"))
    except CodecError as exc:
        return str(exc)
    return None


def checked_local_edits(changes: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """``changes`` (field name -> value; ``fields.x`` for a mapped field not among ``known``) as a row's
    local values, or ValueError saying which change cannot be made and why (see :func:`local_edit_problem`;
    a mapped field takes any JSON value here: its mapping says at the push whether it can be written)."""
    names = set(known)
    plain: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in names and not name.startswith("fields."):
            raise ValueError(f"unknown field {name!r}; synced fields: {', '.join(sorted(names))}")
        problem = local_edit_problem(name, value)
        if problem is not None:
            raise ValueError(problem)
        plain[name.removeprefix("fields.")] = value
    return plain


def core_codecs(
    flavor: Flavor, discovered: Mapping[str, str], estimation: Mapping[str, str] | None = None
) -> list[FieldCodec]:
    """The core field codecs for a site, given ``client.discover_fields()`` (role -> field id) and the field
    each project's board estimates with (project key -> field id)."""
    codecs: list[FieldCodec] = [
        SummaryCodec("summary", "summary"),
        StatusCodec("status", "status"),
        NamedObjectCodec("priority", "priority"),
        UserCodec("assignee", "assignee"),
        LabelsCodec("labels", "labels"),
        RichTextCodec("description", "description"),
    ]
    if discovered.get("sprint"):
        codecs.append(SprintCodec("sprint_id", discovered["sprint"]))
    points = discovered.get("story_points") or discovered.get("classic_story_points")
    per_board = tuple(sorted((p, f) for p, f in (estimation or {}).items() if f != points))
    if points and per_board:
        codecs.append(StoryPointsCodec("story_points", points, by_project=per_board))
    elif points:
        codecs.append(NumberCodec("story_points", points))
    if flavor == "cloud":
        codecs.append(ParentCodec("parent_key", "parent"))
    elif discovered.get("epic_link"):
        codecs.append(ParentCodec("parent_key", discovered["epic_link"]))
    return codecs


class MappedField:
    """A compiled mapping seen as a sync field: its local name is the mapping's ``internal_field``.

    When the mapping fails on pull and its definition has a ``default``, the default is used and the failure
    is still reported (``DefaultUsed``), so the issue keeps syncing and a person sees why.
    """

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.mapping = compiled.name
        self.name: str = compiled.internal_field
        self.jira_field: str = compiled.jira_field
        self.direction: str = compiled.direction
        self.strategy: str | None = compiled.strategy
        self.default = compiled.definition.default

    def from_jira(self, fields: dict[str, Any], ctx: Any) -> Any:
        try:
            return self.compiled.from_jira(fields, ctx)
        except Exception as exc:
            if self.default is not None:
                raise DefaultUsed(self.default, str(exc)) from None
            raise

    def to_jira(self, value: Any, ctx: Any) -> Any:
        problems = self.compiled.validate_value(value)
        if problems:
            raise CodecError(f"mapping {self.mapping!r}: {'; '.join(problems)} (value: {value!r})")
        return self.compiled.to_jira(value, ctx)


class DefaultUsed(Exception):
    """A mapping failed and its default stands in; carries both."""

    def __init__(self, default: Any, message: str) -> None:
        super().__init__(f"{message}; default {default!r} used")
        self.default = default


def combine(core: list[FieldCodec], mapped: Iterable[Any]) -> list[FieldCodec]:
    """Core codecs plus mapped fields; a mapping whose internal field is a core column replaces the built-in
    conversion of that column (e.g. assignee kept as an e-mail through the identity table)."""
    wrapped = [m if isinstance(m, MappedField) else MappedField(m) for m in mapped]
    overridden = {m.name for m in wrapped}
    return [c for c in core if c.name not in overridden] + wrapped  # type: ignore[list-item]
