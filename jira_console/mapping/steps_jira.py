"""Steps that know Jira shapes: option fields, users, sprints, rich text, dates and datetimes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from jira_console.mapping.context import MappingContext
from jira_console.mapping.errors import StepError
from jira_console.mapping.steps_base import StepBase, expect, type_name

_SINGLE_SELECT = (":select", ":radiobuttons")
_MULTI_SELECT = (":multiselect", ":multicheckboxes")
SPRINT_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"


def _custom(schema: dict[str, Any]) -> str:
    return str(schema.get("custom") or "")


def _describe(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "array":
        kind = f"array of {schema.get('items')}"
    custom = _custom(schema)
    return f"{kind} ({custom})" if custom else str(kind)


def _option_value(item: Any, by: str) -> Any:
    if isinstance(item, dict):
        if by not in item:
            raise StepError(f"option object has no {by!r} key (keys: {', '.join(sorted(item))})")
        return item[by]
    if isinstance(item, str):
        # Older Server payloads and webhooks sometimes carry the bare option value.
        if by == "value":
            return item
    raise StepError(f"expected an option object {{value, id}}, got {type_name(item)}")


class OptionStep(StepBase):
    """Single-select option ``{"value": "Backend", "id": "10300"}`` <-> ``"Backend"`` (or its id with
    ``by = "id"``). Writes ``{"value": ...}`` / ``{"id": ...}``."""

    op: Literal["option"] = "option"
    by: Literal["value", "id"] = "value"
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return _option_value(value, self.by)

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return {self.by: expect(value, str, "option text")}

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("type") == "option" or _custom(schema).endswith(_SINGLE_SELECT):
            return None
        return f"option needs a single-select field (schema type option), the field is {_describe(schema)}"


class OptionsStep(StepBase):
    """Multi-select list of option objects <-> list of their values (or ids)."""

    op: Literal["options"] = "options"
    by: Literal["value", "id"] = "value"
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        return [_option_value(item, self.by) for item in expect(value, list, "a list of options")]

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        return [{self.by: expect(item, str, "option text")} for item in expect(value, list, "a list")]

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if (schema.get("type") == "array" and schema.get("items") == "option") or _custom(schema).endswith(
            _MULTI_SELECT
        ):
            return None
        return f"options needs a multi-select field (array of option), the field is {_describe(schema)}"


class UserStep(StepBase):
    """A Jira user <-> the internal id (``key = "id"``) or e-mail (``key = "email"``) of a known person.

    Cloud users are matched by ``accountId``, Server users by ``name``/``key``, both by e-mail when disclosed;
    all through ``ctx.identities``. An unknown person is an *unresolved* error and is appended to
    ``ctx.unresolved``: it is never guessed and never invented. Writes ``{"accountId"}`` on Cloud and
    ``{"name"}`` on Server.
    """

    op: Literal["user"] = "user"
    key: Literal["id", "email"] = "id"
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        user = {"name": value} if isinstance(value, str) else expect(value, dict, "a user object")
        found = ctx.identities.from_jira(ctx.flavor, user) if ctx.identities else None
        if found is None:
            ident = user.get("accountId") or user.get("name") or user.get("key") or user.get("emailAddress")
            label = user.get("displayName") or ident
            ctx.unresolved.append({"kind": "user", "direction": "pull", "flavor": ctx.flavor, "user": user})
            raise StepError(
                f"unresolved Jira user {label!r} ({ident}); add them to the identity table", unresolved=True
            )
        result = found.email if self.key == "email" else found.id
        if result is None:
            raise StepError(f"identity {found.id!r} has no {self.key}", unresolved=True)
        return result

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        local = expect(value, str, f"a user {self.key}")
        found = ctx.identities.from_local(self.key, local) if ctx.identities else None
        jira_key = "accountId" if ctx.flavor == "cloud" else "name"
        jira_id = None
        if found is not None:
            jira_id = found.account_id if ctx.flavor == "cloud" else (found.name or found.key)
        if jira_id is None:
            ctx.unresolved.append(
                {"kind": "user", "direction": "push", "flavor": ctx.flavor, self.key: local}
            )
            raise StepError(f"no Jira {jira_key} known for {self.key} {local!r}", unresolved=True)
        return {jira_key: jira_id}

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("type") == "user":
            return None
        return f"user needs a user field, the field is {_describe(schema)}"


class SprintStep(StepBase):
    """Sprint field (Cloud objects or Server legacy strings) <-> one sprint id (or name with
    ``output = "name"``). ``pick = "current"`` follows ``jira.sprintfield.current_sprint`` (active, else the
    next future one, else the latest closed one); ``"last"`` takes the last listed. Writes a bare sprint id;
    None means the backlog."""

    op: Literal["sprint"] = "sprint"
    pick: Literal["current", "last"] = "current"
    output: Literal["id", "name"] = "id"
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        from jira_console.jira.sprintfield import current_sprint, parse_sprint_value

        try:
            refs = parse_sprint_value(value)
        except (ValueError, TypeError) as exc:
            raise StepError(f"unreadable sprint value: {exc}") from None
        if not refs:
            return None
        ref = current_sprint(refs) if self.pick == "current" else refs[-1]
        if ref is None:
            return None
        return ref.id if self.output == "id" else ref.name

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        if self.output == "name":
            name = expect(value, str, "a sprint name")
            sprint_id = ctx.sprint_lookup(name) if ctx.sprint_lookup else None
            if sprint_id is None:
                ctx.unresolved.append({"kind": "sprint", "direction": "push", "name": name})
                raise StepError(f"no sprint named {name!r} is known", unresolved=True)
            return int(sprint_id)
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return expect(value, int, "a sprint id")

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if _custom(schema) == SPRINT_TYPE:
            return None
        return f"sprint needs the gh-sprint field, the field is {_describe(schema)}"


class RichText(StepBase):
    """ADF (Cloud) or wiki markup (Server) <-> Markdown, via ``jira_console.jira.richtext``. A write is a
    patch of the previous raw Jira value (``ctx.previous``): what Markdown cannot express is kept, and what
    ``ctx.rich_text_policy`` kept instead of the local text is noted in ``ctx.notes``."""

    op: Literal["rich_text"] = "rich_text"
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        from jira_console.jira import richtext

        try:
            return richtext.to_local(ctx.flavor, value)
        except (ValueError, TypeError, KeyError) as exc:
            raise StepError(f"unreadable rich text: {exc}") from None

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        from jira_console.jira import richtext

        try:
            text = expect(value, str, "Markdown text")
            written = richtext.write_rich_text(ctx.flavor, text, ctx.previous, ctx.rich_text_policy)
        except (ValueError, TypeError, KeyError) as exc:
            raise StepError(f"cannot convert Markdown to Jira rich text: {exc}") from None
        if written.kept:
            ctx.notes.append(written.message())
        return written.value

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        custom = _custom(schema)
        if schema.get("type") in ("string", "doc") and not custom.endswith(_SINGLE_SELECT + _MULTI_SELECT):
            return None
        return f"rich_text needs a text field (string/doc), the field is {_describe(schema)}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StepError(f"unknown time zone {name!r}") from None


def _check_zone(name: str | None) -> str | None:
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
    return name


def parse_jira_datetime(value: Any) -> datetime:
    """Parse Jira's ``2025-01-31T14:05:09.123+1100`` (and ISO variants, epoch milliseconds) to an aware
    datetime. A value without an offset is an error: guessing the zone is how updates get lost."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=ZoneInfo("UTC"))
    text = expect(value, str, "a datetime text")
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StepError(f"{text!r} is not a Jira datetime (like 2025-01-31T14:05:09.123+1100)") from None
    if parsed.tzinfo is None:
        raise StepError(f"{text!r} has no UTC offset")
    return parsed


def format_jira_datetime(moment: datetime) -> str:
    """Jira's write format: milliseconds and a ``+hhmm`` offset."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


class DateStep(StepBase):
    """Jira date ``2025-01-31`` <-> local text in ``format`` (strftime; ISO by default)."""

    op: Literal["date"] = "date"
    format: str | None = None
    invertible: ClassVar[bool] = True

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        text = expect(value, str, "a date text")
        try:
            day = date.fromisoformat(text.strip()[:10])
        except ValueError:
            raise StepError(f"{text!r} is not a Jira date (YYYY-MM-DD)") from None
        return day.strftime(self.format) if self.format else day.isoformat()

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        text = expect(value, str, "a date text")
        try:
            day = datetime.strptime(text, self.format).date() if self.format else date.fromisoformat(text)
        except ValueError:
            raise StepError(
                f"{text!r} does not match the date format {self.format or 'YYYY-MM-DD'!r}"
            ) from None
        return day.isoformat()

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("type") in ("date", "datetime", "string"):
            return None
        return f"date needs a date field, the field is {_describe(schema)}"


class DateTimeStep(StepBase):
    """Jira datetime <-> local text in time zone ``tz`` (default: ``ctx.tz``) and ``format`` (strftime;
    default ISO 8601 with milliseconds and offset, which round-trips exactly). Local text without an offset is
    read in that zone."""

    op: Literal["datetime"] = "datetime"
    tz: str | None = None
    format: str | None = None
    invertible: ClassVar[bool] = True

    @field_validator("tz")
    @classmethod
    def _zone_ok(cls, value: str | None) -> str | None:
        return _check_zone(value)

    def _forward(self, value: Any, ctx: MappingContext) -> Any:
        moment = parse_jira_datetime(value).astimezone(_zone(self.tz or ctx.tz))
        return moment.strftime(self.format) if self.format else moment.isoformat(timespec="milliseconds")

    def _inverse(self, value: Any, ctx: MappingContext) -> Any:
        text = expect(value, str, "a datetime text")
        try:
            moment = datetime.strptime(text, self.format) if self.format else datetime.fromisoformat(text)
        except ValueError:
            raise StepError(
                f"{text!r} does not match the datetime format {self.format or 'ISO 8601'!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_zone(self.tz or ctx.tz))
        return format_jira_datetime(moment)

    def jira_schema_problem(self, schema: dict[str, Any]) -> str | None:
        if schema.get("type") in ("datetime", "date", "string"):
            return None
        return f"datetime needs a datetime field, the field is {_describe(schema)}"
