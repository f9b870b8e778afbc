"""JQL evaluation for the simulator: a parsed query compiled into a predicate over simulated issues.

Date literals (``"2025/01/31 14:05"``, ``"2025-01-31 14:05"``, ``"2025/01/31"``) carry minute precision
and are read in the requesting user's time zone, as Jira does; numbers are epoch milliseconds.
"""

from __future__ import annotations

import operator
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jira_console.simulator.jql import And, Clause, Func, JqlError, Node, Not, Or, Value
from jira_console.simulator.model import Issue


class SiteView(Protocol):
    """What evaluation needs from the simulator's state."""

    projects: tuple[str, ...]

    def sprint_state(self, sprint_id: int) -> str | None: ...

    def sprint_by_name(self, name: str) -> int | None: ...

    def resolve_user(self, ident: str) -> str | None: ...

    def find(self, id_or_key: str) -> Issue | None: ...


_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNIT_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}


def date_value(raw: Value, tz: ZoneInfo, now_ms: int | None = None) -> int:
    """A JQL date operand as epoch milliseconds (minute precision for strings, as Jira reads them)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if isinstance(raw, Func):
        if raw.name.lower() == "now":
            return now
        raise JqlError(f"Error in the JQL Query: Unable to find JQL function '{raw.name}()'.")
    text = raw.strip()
    if re.fullmatch(r"-?\d{9,}", text):
        return int(text)
    rel = _RELATIVE.match(text)
    if rel:
        delta = int(rel.group(2)) * _UNIT_MS[rel.group(3)]
        return now - delta if rel.group(1) == "-" else now + delta
    for fmt in _DATE_FORMATS:
        try:
            naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - the zone is the user's, attached below
        except ValueError:
            continue
        return int(naive.replace(tzinfo=tz).timestamp() * 1000)
    raise JqlError(
        f"Date value '{raw}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


Predicate = Callable[[Issue], bool]

_FIELD_ALIASES = {
    "issuekey": "key",
    "type": "issuetype",
    "cf[10020]": "sprint",
    "cf[10104]": "sprint",
    "customfield_10020": "sprint",
    "customfield_10104": "sprint",
}
_ISSUE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")
_SORTABLE = {"updated", "created", "key", "issuekey", "id", "priority", "status", "summary", "rank"}


@dataclass
class Bounds:
    """Lower/upper limits on ``updated`` implied by top-level AND clauses (for the sorted index)."""

    lo: int | None = None
    lo_incl: bool = True
    hi: int | None = None
    hi_incl: bool = True


class Compiler:
    """Turns a parsed query into a predicate over :class:`Issue` for one site and user time zone."""

    def __init__(
        self, site: SiteView, tz: ZoneInfo, me: str, now_ms: int | None = None, *, validate: bool = True
    ) -> None:
        self.site = site
        self.tz = tz
        self.me = me
        self.now_ms = now_ms
        self.validate = validate
        """Jira's strict validation (a 400 naming each key no issue has); off (Server's
        ``validateQuery=false``), those keys match nothing and are told in :attr:`warnings`."""
        self.warnings: list[str] = []

    def compile(self, node: Node | None) -> Predicate:
        if node is None:
            return lambda issue: True
        if isinstance(node, And):
            preds = [self.compile(p) for p in node.parts]
            return lambda issue: all(p(issue) for p in preds)
        if isinstance(node, Or):
            preds = [self.compile(p) for p in node.parts]
            return lambda issue: any(p(issue) for p in preds)
        if isinstance(node, Not):
            inner = self.compile(node.part)
            return lambda issue: not inner(issue)
        return self._clause(node)

    def bounds(self, node: Node | None) -> Bounds:
        """Bounds on ``updated`` that every match satisfies (only from top-level AND-ed clauses)."""
        found = Bounds()
        parts = node.parts if isinstance(node, And) else (node,) if node is not None else ()
        for part in parts:
            if isinstance(part, Clause) and part.field == "updated" and part.op in (">", ">=", "<", "<="):
                ms = date_value(part.values[0], self.tz, self.now_ms)
                if part.op in (">", ">=") and (found.lo is None or ms >= found.lo):
                    found.lo, found.lo_incl = ms, part.op == ">="
                if part.op in ("<", "<=") and (found.hi is None or ms <= found.hi):
                    found.hi, found.hi_incl = ms, part.op == "<="
        return found

    def _values(self, clause: Clause) -> list[str]:
        out: list[str] = []
        for v in clause.values:
            if isinstance(v, Func):
                if v.name.lower() == "currentuser":
                    out.append(self.me)
                    continue
                raise JqlError(f"Error in the JQL Query: Unable to find JQL function '{v.name}()'.")
            out.append(v)
        return out

    def _membership(
        self, clause: Clause, get: Callable[[Issue], Any], norm: Callable[[str], Any]
    ) -> Predicate:
        op = clause.op
        if op in ("is", "is not"):
            empty = op == "is"
            return lambda issue: (get(issue) in (None, [], "")) == empty
        if op not in ("=", "!=", "in", "not in"):
            raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.")
        wanted = {norm(v) for v in self._values(clause)}
        positive = op in ("=", "in")

        def pred(issue: Issue) -> bool:
            have = get(issue)
            hit = bool(wanted.intersection(have)) if isinstance(have, list) else have in wanted
            return hit if positive else (not hit and have not in (None, []))

        return pred

    def _clause(self, clause: Clause) -> Predicate:
        name = _FIELD_ALIASES.get(clause.field, clause.field)
        if name == "project":

            def norm_project(v: str) -> str:
                if v.upper() not in self.site.projects:
                    raise JqlError(f"The value '{v}' does not exist for the field 'project'.")
                return v.upper()

            return self._membership(clause, lambda i: i.project, norm_project)
        if name == "key":
            self._check_keys(clause)
            # A key an issue had before it moved still finds it (the site's lifecycle knows the old keys).
            current = getattr(getattr(self.site, "lifecycle", None), "current_key", str.upper)
            return self._membership(clause, lambda i: i.key, current)
        if name == "id":
            self._check_keys(clause, "id")
            return self._membership(clause, lambda i: str(i.id), str)
        if name == "status":
            from jira_console.simulator.model import STATUS_BY_ID, STATUS_BY_NAME

            lowered = {s.lower(): s for s in STATUS_BY_NAME}

            def norm_status(v: str) -> str:
                if v in STATUS_BY_ID:
                    return STATUS_BY_ID[v].name
                if v.lower() not in lowered:
                    raise JqlError(f"The value '{v}' does not exist for the field 'status'.")
                return lowered[v.lower()]

            return self._membership(clause, lambda i: i.status, norm_status)
        if name in ("issuetype", "priority"):
            return self._membership(clause, lambda i: getattr(i, name).lower(), str.lower)
        if name == "labels":
            return self._membership(clause, lambda i: i.labels, str)
        if name in ("assignee", "reporter"):

            def norm_user(v: str) -> str | None:
                return self.site.resolve_user(v) or f"<unknown:{v}>"

            return self._membership(clause, lambda i: getattr(i, name), norm_user)  # type: ignore[arg-type]
        if name == "sprint":
            return self._sprint(clause)
        if name in ("updated", "created"):
            return self._date(clause, name)
        if name == "summary":
            if clause.op not in ("~", "!~"):
                raise JqlError("The operator '=' is not supported by the 'summary' field.")
            needle = self._values(clause)[0].lower().strip("*")
            hit = clause.op == "~"
            return lambda issue: (needle in issue.summary.lower()) == hit
        raise JqlError(f"Field '{clause.field}' does not exist or you do not have permission to view it.")

    def _check_keys(self, clause: Clause, field: str = "key") -> None:
        """Jira validates the issues a ``key`` or ``id`` clause names: one message per key or id of no issue
        (deleted, never made, or not visible) or of the wrong shape, and the whole query fails with all of
        them (the messages say "key" for ids too)."""
        if clause.op in ("is", "is not"):
            return
        shaped = str.isdigit if field == "id" else (lambda v: bool(_ISSUE_KEY.fullmatch(v)) or v.isdigit())
        problems: list[str] = []
        for value in self._values(clause):
            if not shaped(value):
                problems.append(f"The issue key '{value}' for field '{field}' is invalid.")
            elif self.site.find(value) is None:
                problems.append(f"An issue with key '{value}' does not exist for field '{field}'.")
        if problems and self.validate:
            raise JqlError(*problems)
        self.warnings.extend(problems)

    def _sprint(self, clause: Clause) -> Predicate:
        if clause.op in ("is", "is not"):
            empty = clause.op == "is"
            return lambda issue: (not issue.sprints) == empty
        states: set[str] = set()
        ids: set[int] = set()
        for v in clause.values:
            if isinstance(v, Func):
                fname = v.name.lower()
                mapping = {
                    "opensprints": {"active", "future"},
                    "closedsprints": {"closed"},
                    "futuresprints": {"future"},
                }
                if fname not in mapping:
                    raise JqlError(f"Error in the JQL Query: Unable to find JQL function '{v.name}()'.")
                states |= mapping[fname]
            elif v.isdigit():
                ids.add(int(v))
            else:
                found = self.site.sprint_by_name(v)
                if found is None:
                    raise JqlError(f"The value '{v}' does not exist for the field 'sprint'.")
                ids.add(found)
        if clause.op not in ("=", "!=", "in", "not in"):
            raise JqlError(f"The operator '{clause.op}' is not supported by the 'sprint' field.")
        positive = clause.op in ("=", "in")

        def pred(issue: Issue) -> bool:
            hit = any(s in ids or self.site.sprint_state(s) in states for s in issue.sprints)
            return hit if positive else (not hit and bool(issue.sprints))

        return pred

    def _date(self, clause: Clause, name: str) -> Predicate:
        if clause.op not in ("=", "!=", ">", ">=", "<", "<="):
            raise JqlError(f"The operator '{clause.op}' is not supported by the '{name}' field.")
        ms = date_value(clause.values[0], self.tz, self.now_ms)
        op = clause.op
        compare: dict[str, Callable[[int], bool]] = {
            "=": lambda v: v == ms,
            "!=": lambda v: v != ms,
            ">": lambda v: v > ms,
            ">=": lambda v: v >= ms,
            "<": lambda v: v < ms,
            "<=": lambda v: v <= ms,
        }
        test = compare[op]
        return lambda issue: test(getattr(issue, name))


def sort_key_for(order_by: tuple[tuple[str, bool], ...]) -> list[tuple[Callable[[Issue], Any], bool]]:
    """Key functions for ORDER BY, validated against the sortable fields."""
    from jira_console.simulator.model import PRIORITY_BY_NAME, STATUSES

    status_rank = {s.name: i for i, s in enumerate(STATUSES)}
    keys: list[tuple[Callable[[Issue], Any], bool]] = []
    for name, desc in order_by:
        if name not in _SORTABLE:
            raise JqlError(f"Not able to sort using field '{name}'.")
        if name in ("key", "issuekey"):
            keys.append((lambda i: i.sort_key, desc))
        elif name in ("id", "rank"):
            keys.append((lambda i: i.id, desc))
        elif name == "priority":
            keys.append((lambda i: int(PRIORITY_BY_NAME.get(i.priority, "9")), desc))
        elif name == "status":
            keys.append((lambda i: status_rank.get(i.status, 99), desc))
        else:
            keys.append((operator.attrgetter(name), desc))
    return keys
