"""The simulated site's canonical state: seeded issues, sprints, boards, the sorted index, edits.

Every public method takes the site's lock, because the HTTP app runs in a uvicorn thread while tests and
background activity call in from others.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from jira_console.simulator import jql, jql_eval, properties
from jira_console.simulator.boards_config import configure_boards
from jira_console.simulator.contexts import out_of_context_errors
from jira_console.simulator.edits import EditError, EditPlanner
from jira_console.simulator.fields import FieldDef, defs_by_id
from jira_console.simulator.lifecycle import Lifecycle
from jira_console.simulator.model import (
    FIELD_IDS,
    ISSUE_TYPES,
    STATUS_BY_NAME,
    TEAM_OPTIONS,
    WORKFLOW,
    Board,
    History,
    Issue,
    SimConfig,
    SimUser,
    Sprint,
    default_users,
)
from jira_console.simulator.seed import DAY_MS, generate

Listener = Callable[[str, dict[str, Any]], None]


def _now_ms() -> int:
    return int(time.time() * 1000)


class Site:
    """All mutable state of one simulated Jira site."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.flavor = cfg.flavor
        self.tz = ZoneInfo(cfg.user_tz)
        self.projects = tuple(p.upper() for p in cfg.projects)
        self.lock = threading.RLock()
        self.users = default_users(cfg.user_tz)
        self._users_by_name = {u.name: u for u in self.users}
        self._users_by_account = {u.account_id: u for u in self.users}
        self.field_defs: dict[str, FieldDef] = defs_by_id(cfg.flavor)
        self.issues: dict[str, Issue] = {}
        self._by_id: dict[str, Issue] = {}
        self._index: list[tuple[int, str, int, str]] = []  # (updated, project, number, key)
        self.properties: dict[int, dict[str, Any]] = {}
        """Issue entity properties: issue id -> property key -> JSON value (see ``properties``)."""
        self.sprints: dict[int, Sprint] = {}
        self.boards: dict[int, Board] = {}
        self._next_number = {p: 1 for p in self.projects}
        self._next_id = 10001
        self._next_history = 100000
        self.listeners: list[Listener] = []
        self.lifecycle = Lifecycle(self)
        self._generate()
        configure_boards(self)

    # ----------------------------------------------------------------- lookups
    @property
    def me(self) -> SimUser:
        return self.users[0]

    def user(self, name: str | None) -> SimUser | None:
        return self._users_by_name.get(name) if name else None

    def user_by_account(self, account_id: str) -> SimUser | None:
        return self._users_by_account.get(account_id)

    def resolve_user(self, ident: str) -> str | None:
        """A user name from a name, account id, e-mail or display name."""
        for user in self.users:
            if ident in (user.name, user.account_id, user.email, user.display_name):
                return user.name
        return None

    def sprint_state(self, sprint_id: int) -> str | None:
        sp = self.sprints.get(sprint_id)
        return sp.state if sp else None

    def sprint_by_name(self, name: str) -> int | None:
        for sp in self.sprints.values():
            if sp.name.lower() == name.lower():
                return sp.id
        return None

    def issue_by_id(self, ident: str) -> Issue | None:
        return self._by_id.get(ident)

    def find(self, id_or_key: str) -> Issue | None:
        """An issue by key (any case, old keys of moved issues too) or numeric id."""
        with self.lock:
            found = self.issues.get(id_or_key.upper()) or self._by_id.get(id_or_key)
            return found or self.lifecycle.alias(self, id_or_key)

    # -------------------------------------------------------------- generation
    def _generate(self) -> None:
        seed = generate(self.cfg, self.projects, self.users)
        self.boards = seed.boards
        self.sprints = seed.sprints
        self._next_number = seed.next_number
        self._next_id = seed.next_id
        for issue in seed.issues:
            self.issues[issue.key] = issue
            self._by_id[str(issue.id)] = issue
        self._index = sorted((i.updated, i.project, i.number, i.key) for i in seed.issues)

    # ------------------------------------------------------------------ search
    def search(
        self, query: jql.Query, *, validate: bool = True, warnings: list[str] | None = None
    ) -> list[Issue]:
        """All issues matching ``query`` in its ORDER BY order (Jira's default: key DESC... here updated).
        ``validate=False``: keys of no issue match nothing instead of failing the query; what strict
        validation would have refused is appended to ``warnings``."""
        compiler = jql_eval.Compiler(self, self.tz, self.me.name, validate=validate)
        with self.lock:
            pred = compiler.compile(query.where)
            bounds = compiler.bounds(query.where)
            sort_keys = jql_eval.sort_key_for(query.order_by)
            lo = 0
            hi = len(self._index)
            if bounds.lo is not None:
                probe = (bounds.lo,) if bounds.lo_incl else (bounds.lo, "\uffff")
                lo = bisect.bisect_left(self._index, probe)
            if bounds.hi is not None:
                probe = (bounds.hi, "\uffff") if bounds.hi_incl else (bounds.hi,)
                hi = bisect.bisect_left(self._index, probe)
            matched = [self.issues[row[3]] for row in self._index[lo:hi]]
            matched = [i for i in matched if pred(i)]
        # The index is already (updated, key) ascending; only other orders need a sort.
        natural = [n for n, _ in query.order_by[:2]]
        if sort_keys and not (
            natural in (["updated"], ["updated", "key"], ["updated", "issuekey"])
            and not any(d for _, d in query.order_by[:2])
        ):
            for keyfunc, desc in reversed(sort_keys):
                matched.sort(key=keyfunc, reverse=desc)
        elif not sort_keys:
            matched.sort(key=lambda i: i.sort_key, reverse=True)
        if warnings is not None:
            warnings.extend(compiler.warnings)
        return matched

    def matches(self, jql_text: str, issue: Issue) -> bool:
        """Does ``issue`` satisfy a JQL filter (webhook filters)?"""
        query = jql.parse(jql_text)
        # A filter naming a key that has since gone matches nothing rather than failing every delivery.
        return jql_eval.Compiler(self, self.tz, self.me.name, validate=False).compile(query.where)(issue)

    # ------------------------------------------------------------------ writes
    def _reindex(self, issue: Issue, new_updated: int) -> None:
        row = (issue.updated, issue.project, issue.number, issue.key)
        pos = bisect.bisect_left(self._index, row)
        if pos < len(self._index) and self._index[pos] == row:
            del self._index[pos]
        issue.updated = new_updated
        bisect.insort(self._index, (issue.updated, issue.project, issue.number, issue.key))

    def _items(self, issue: Issue, changes: dict[str, Any]) -> list[dict[str, Any]]:
        """Changelog items for the attributes that really change."""
        ids = FIELD_IDS[self.flavor]
        cloud = self.flavor == "cloud"
        items: list[dict[str, Any]] = []
        for attr, new in changes.items():
            old = getattr(issue, attr)
            if old == new:
                continue
            item: dict[str, Any] = {
                "field": attr,
                "fieldtype": "jira",
                "fieldId": attr,
                "from": None,
                "fromString": None,
                "to": None,
                "toString": None,
            }
            if attr in ("assignee", "reporter"):
                for side, val in (("from", old), ("to", new)):
                    user = self.user(val)
                    item[side] = (user.account_id if cloud else user.name) if user else None
                    item[side + "String"] = user.display_name if user else None
            elif attr == "status":
                item["from"], item["fromString"] = STATUS_BY_NAME[old].id, old
                item["to"], item["toString"] = STATUS_BY_NAME[new].id, new
            elif attr == "sprints":
                item.update(field="Sprint", fieldtype="custom", fieldId=ids["sprint"])
                item["from"] = ", ".join(str(s) for s in old) or None
                item["to"] = ", ".join(str(s) for s in new) or None
                item["fromString"] = ", ".join(self.sprints[s].name for s in old) or None
                item["toString"] = ", ".join(self.sprints[s].name for s in new) or None
            elif attr in ("story_points", "classic_story_points", "team", "atlassian_team"):
                fid = ids.get(attr, "")
                item.update(field=self.field_defs[fid].name, fieldtype="custom", fieldId=fid)
                if attr == "team":
                    names = dict(TEAM_OPTIONS)
                    item.update(
                        {"from": old, "fromString": names.get(old), "to": new, "toString": names.get(new)}
                    )
                else:
                    item.update(
                        fromString=None if old is None else str(old),
                        toString=None if new is None else str(new),
                    )
            elif attr == "labels":
                item.update(fromString=" ".join(old) or None, toString=" ".join(new) or None)
            elif attr == "components":
                item["field"] = "Component"
                item.update(fromString=", ".join(old) or None, toString=", ".join(new) or None)
            elif attr in ("description", "environment"):
                from jira_console.simulator.richtext import adf_to_wiki

                item.update(fromString=adf_to_wiki(old), toString=adf_to_wiki(new))
            elif attr == "parent":
                if not cloud:
                    item.update(field="Epic Link", fieldtype="custom", fieldId=ids["epic_link"])
                old_i = self.issues.get(old) if old else None
                new_i = self.issues.get(new) if new else None
                item.update(
                    {
                        "from": str(old_i.id) if old_i else None,
                        "fromString": old,
                        "to": str(new_i.id) if new_i else None,
                        "toString": new,
                    }
                )
            else:
                item.update(
                    fromString=None if old is None else str(old), toString=None if new is None else str(new)
                )
            items.append(item)
        return items

    def commit(
        self, issue: Issue, changes: dict[str, Any], by: str, event_type: str = "issue_updated"
    ) -> bool:
        """Apply validated ``changes``; bumps ``updated``, adds a changelog entry, fires listeners."""
        with self.lock:
            items = self._items(issue, changes)
            if not items:
                return False
            now = self.lifecycle.now_ms()
            for attr, new in changes.items():
                setattr(issue, attr, new)
            history = History(self._next_history, by, now, items)
            self._next_history += 1
            issue.changelog.append(history)
            self._reindex(issue, now)
            if "assignee" in changes and event_type == "issue_updated" and len(items) == 1:
                event_type = "issue_assigned"
            self._emit(
                "jira:issue_updated",
                {"issue": issue, "history": history, "user": by, "event_type": event_type},
            )
            return True

    def edit(
        self,
        key: str,
        fields: dict[str, Any] | None,
        update: dict[str, Any] | None,
        *,
        version: str,
        by: str,
        lenient: bool = False,
        props: dict[str, Any] | None = None,
    ) -> Issue:
        """Validate and apply an edit; raises :class:`EditError` or KeyError. ``props`` (validated entity
        properties) are set too, without touching ``updated``."""
        with self.lock:
            issue = self.find(key)
            if issue is None:
                raise KeyError(key)
            outside = out_of_context_errors(self, issue.issuetype, [*(fields or {}), *(update or {})])
            if outside:
                raise EditError(errors=outside)
            changes = EditPlanner(self, issue, version, lenient=lenient).plan(fields, update)
            self.commit(issue, changes, by, "issue_generic" if "status" in changes else "issue_updated")
            properties.set_all(self, issue, props or {})
            return issue

    def transition(
        self,
        key: str,
        transition_id: str,
        fields: dict[str, Any] | None,
        *,
        version: str,
        by: str,
        props: dict[str, Any] | None = None,
    ) -> Issue:
        with self.lock:
            issue = self.find(key)
            if issue is None:
                raise KeyError(key)
            step = next(
                (t for t in WORKFLOW if t.id == str(transition_id) and t.source == issue.status), None
            )
            if step is None:
                raise EditError(messages=[f"Transition id '{transition_id}' is not valid for this issue."])
            changes = EditPlanner(self, issue, version).plan(fields, None) if fields else {}
            changes["status"] = step.target
            self.commit(issue, changes, by, "issue_generic")
            properties.set_all(self, issue, props or {})
            return issue

    def create(
        self,
        project: str,
        fields: dict[str, Any],
        *,
        version: str,
        by: str,
        lenient: bool = False,
        props: dict[str, Any] | None = None,
    ) -> Issue:
        """Create an issue in ``project`` from request-style ``fields`` holding the validated entity
        properties ``props``."""
        with self.lock:
            project = project.upper()
            if project not in self.projects:
                raise EditError({"project": "Specify a valid project ID or key"})
            data = {k: v for k, v in fields.items() if k != "project"}
            if "summary" not in data:
                raise EditError({"summary": "You must specify a summary of the issue."})
            if "issuetype" not in data:
                if not lenient:
                    raise EditError({"issuetype": "Specify an issue type"})
                data["issuetype"] = "Task"
            changes = EditPlanner(self, None, version, lenient=lenient, creating=True).plan(data, None)
            outside = out_of_context_errors(self, str(changes.get("issuetype") or "Task"), data)
            if outside and not lenient:  # like an edit, a create cannot set a field outside its context
                raise EditError(errors=outside)
            number = self._next_number[project]
            self._next_number[project] += 1
            now = self.lifecycle.now_ms()
            issue = Issue(
                id=self._next_id,
                key=f"{project}-{number}",
                project=project,
                number=number,
                summary="",
                issuetype="Task",
                status="To Do",
                priority="Medium",
                assignee=None,
                reporter=changes.pop("reporter", None) or by,
                labels=[],
                components=[],
                description=None,
                environment=None,
                created=now,
                updated=now,
            )
            self._next_id += 1
            for attr, value in changes.items():
                setattr(issue, attr, value)
            self.issues[issue.key] = issue
            self._by_id[str(issue.id)] = issue
            properties.set_all(self, issue, props or {})
            bisect.insort(self._index, (issue.updated, issue.project, issue.number, issue.key))
            self._emit(
                "jira:issue_created",
                {"issue": issue, "history": None, "user": by, "event_type": "issue_created"},
            )
            return issue

    def delete(self, key: str, by: str) -> Issue:
        with self.lock:
            issue = self.find(key)
            if issue is None:
                raise KeyError(key)
            row = (issue.updated, issue.project, issue.number, issue.key)
            pos = bisect.bisect_left(self._index, row)
            if pos < len(self._index) and self._index[pos] == row:
                del self._index[pos]
            del self.issues[issue.key]
            del self._by_id[str(issue.id)]
            self.properties.pop(issue.id, None)
            self._emit(
                "jira:issue_deleted",
                {"issue": issue, "history": None, "user": by, "event_type": "issue_deleted"},
            )
            return issue

    def move_to_sprint(self, sprint_id: int | None, keys: list[str], by: str) -> None:
        """Agile moves: into an open sprint, or to the backlog when ``sprint_id`` is None."""
        with self.lock:
            if sprint_id is not None:
                state = self.sprint_state(sprint_id)
                if state is None:
                    raise KeyError(sprint_id)
                if state == "closed":
                    raise EditError(messages=["Cannot move issues to a closed sprint."])
            found = []
            for key in keys:
                issue = self.find(str(key))
                if issue is None:
                    raise EditError(
                        messages=[f"Issue does not exist or you do not have permission to see it: {key}"]
                    )
                found.append(issue)
            for issue in found:
                closed = [s for s in issue.sprints if self.sprint_state(s) == "closed"]
                target = [*closed, sprint_id] if sprint_id is not None else closed
                self.commit(issue, {"sprints": target}, by)

    def update_sprint(self, sprint_id: int, changes: dict[str, Any], by: str) -> Sprint:
        """Partial sprint update (name, goal, state, dates); fires sprint events."""
        with self.lock:
            sp = self.sprints.get(sprint_id)
            if sp is None:
                raise KeyError(sprint_id)
            if sp.state == "closed":
                raise EditError(messages=["Cannot update a closed sprint."])
            event = "sprint_updated"
            new_state = changes.get("state")
            if new_state and new_state != sp.state:
                allowed = {("future", "active"): "sprint_started", ("active", "closed"): "sprint_closed"}
                if (sp.state, new_state) not in allowed:
                    raise EditError(messages=[f"Cannot change sprint state from {sp.state} to {new_state}."])
                event = allowed[(sp.state, new_state)]
                sp.state = new_state
                if new_state == "active":
                    sp.start = sp.start or _now_ms()
                    sp.end = sp.end or sp.start + 14 * DAY_MS
                if new_state == "closed":
                    sp.complete = _now_ms()
            if "name" in changes:
                sp.name = str(changes["name"])
            if "goal" in changes:
                sp.goal = str(changes["goal"] or "")
            self._emit(event, {"sprint": sp, "user": by})
            return sp

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            listener(event, data)


__all__ = ["Site", "EditError", "ISSUE_TYPES"]
