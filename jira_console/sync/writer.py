"""Writing planned changes to Jira: one edit per issue for plain fields, transitions for status, sprint
moves grouped by target sprint (the Agile API moves up to 50 issues per call); the result is a typed
:class:`PushOutcome` (written, refused with Jira's reason, failed for a reason that may pass).

A call that fails on this side (a value the request cannot carry, a bug) is refused for the fields it
carried, like a value Jira refuses: the writes of the other issues go on, and the outcome of every call
made so far reaches the caller, which records them (audit line, new base). Letting it out would lose the
records of the writes Jira had already taken."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jira_console.jira import JiraClient
from jira_console.jira.agile import MOVE_CHUNK, chunks
from jira_console.jira.errors import JiraBadRequest, JiraError, JiraNotFound
from jira_console.jira.workflow import WorkflowPlanner
from jira_console.logs import get_logger
from jira_console.mapping.compiled import JiraWrite as Write

log = get_logger(__name__)


class Planned(Protocol):
    """What the writer needs of an issue's plan (see ``sync.push.IssuePlan``)."""

    key: str
    writes: dict[str, Write]


@dataclass
class PushOutcome:
    """What writing to Jira did, per issue key and field name."""

    succeeded: dict[str, set[str]] = field(default_factory=dict)
    """Fields Jira took."""
    refused: dict[str, dict[str, str]] = field(default_factory=dict)
    """Fields Jira refused, with its reason: parked until someone edits them again (or a full sync)."""
    transient: dict[str, dict[str, str]] = field(default_factory=dict)
    """Fields not written for a reason that may pass (Jira unavailable, rate limited): retried next run."""

    @classmethod
    def for_keys(cls, keys: Iterable[str]) -> PushOutcome:
        keys = list(keys)
        return cls({k: set() for k in keys}, {k: {} for k in keys}, {k: {} for k in keys})

    def wrote(self, key: str, names: Iterable[str]) -> None:
        self.succeeded.setdefault(key, set()).update(names)

    def refuse(self, key: str, names: Iterable[str], reason: str) -> None:
        for name in names:
            self.refused.setdefault(key, {})[name] = reason

    def fail(self, key: str, names: Iterable[str], error: str) -> None:
        for name in names:
            self.transient.setdefault(key, {})[name] = error

    def written_keys(self) -> list[str]:
        return [k for k, names in self.succeeded.items() if names]

    def first_transient(self) -> str | None:
        """The first error that may pass (the push stops there and reports it), or None."""
        return next((msg for errs in self.transient.values() for msg in errs.values()), None)


async def write_plans(client: JiraClient, plans: Sequence[Planned]) -> PushOutcome:
    """Send the planned writes of every issue and tell what happened to each field."""
    outcome = PushOutcome.for_keys(p.key for p in plans)
    planner = WorkflowPlanner(client)  # one for the push: what it learns of a workflow serves every issue
    sprint_moves: dict[int | None, list[tuple[str, str]]] = {}
    for plan in plans:
        field_writes: dict[str, Write] = {}
        update_writes: dict[str, Write] = {}
        for name, w in plan.writes.items():
            if w.kind == "sprint":
                sprint_moves.setdefault(w.value, []).append((plan.key, name))
            elif w.kind == "transition":
                await _guard(outcome, [(plan.key, name)], _transition(planner, plan.key, w.value))
            elif w.kind == "update":
                update_writes[name] = w
            else:
                field_writes[name] = w
        if field_writes or update_writes:
            await _edit(client, outcome, plan.key, field_writes, update_writes)
    for sprint_id, members in sprint_moves.items():
        for batch in chunks(members, MOVE_CHUNK):
            await _move_sprint(client, outcome, sprint_id, batch)
    return outcome


async def _move_sprint(
    client: JiraClient, outcome: PushOutcome, sprint_id: int | None, members: list[tuple[str, str]]
) -> None:
    """Move issues into a sprint (or the backlog) in one call; when Jira refuses the batch, one issue it
    cannot move must not hold back the others: each is then moved on its own and only those Jira refuses
    are parked."""

    def move(keys: list[str]) -> Awaitable[Any]:
        return client.move_to_backlog(keys) if sprint_id is None else client.move_to_sprint(sprint_id, keys)

    if len(members) == 1:
        await _guard(outcome, members, move([members[0][0]]))
        return
    try:
        await move([k for k, _ in members])
    except JiraBadRequest:
        for member in members:
            await _guard(outcome, [member], move([member[0]]))
    except JiraError as exc:
        _each(members, outcome.fail, str(exc))
    except Exception:  # noqa: BLE001 - failed on this side: each issue on its own tells which one
        for member in members:
            await _guard(outcome, [member], move([member[0]]))
    else:
        _each(members, outcome.wrote)


async def _transition(planner: WorkflowPlanner, key: str, status: str) -> None:
    """Plan the whole path first (reads only), then walk it; a status Jira cannot reach moves nothing and
    is refused with the reachable choices (see :mod:`jira_console.jira.workflow`). Where the workflow is
    only partly known, the known part is walked and the rest planned from there."""
    plan = await planner.plan(key, status)
    await planner.walk(plan)
    for _ in range(PARTIAL_PLANS):  # a status no other issue sits in: its transitions are read on arrival
        if not plan.partial:
            return
        plan = await planner.plan(key, status)
        await planner.walk(plan)


PARTIAL_PLANS = 5


async def _guard(outcome: PushOutcome, members: list[tuple[str, str]], op: Awaitable[Any]) -> None:
    """Run one Jira call writing the (key, field) ``members`` and record its result for each of them."""
    try:
        await op
    except (JiraBadRequest, JiraNotFound) as exc:
        _each(members, outcome.refuse, str(exc))
    except JiraError as exc:
        _each(members, outcome.fail, str(exc))
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        _each(members, outcome.refuse, not_sent([k for k, _ in members], exc))
    else:
        _each(members, outcome.wrote)


def not_sent(keys: Sequence[str], exc: Exception) -> str:
    """The field error of a write that failed on this side, before or while it was sent (logged without its
    message, which may quote a value)."""
    log.error("a write to Jira failed on this side", issues=list(keys), error=type(exc).__name__)
    return f"not sent to Jira: {type(exc).__name__}: {exc}"


def _each(members: list[tuple[str, str]], record: Callable[..., None], *detail: str) -> None:
    """Record one result (``outcome.wrote``, ``.fail``, ``.refuse``) for each (key, field) member."""
    for key, name in members:
        record(key, [name], *detail)


async def _edit(
    client: JiraClient,
    outcome: PushOutcome,
    key: str,
    field_writes: dict[str, Write],
    update_writes: dict[str, Write],
) -> None:
    """One edit of an issue. When Jira names the fields it refused, those are parked and the rest is sent
    once more."""
    remaining = dict(field_writes)
    for _attempt in range(2):
        names = list(remaining) + list(update_writes)
        body_fields = {w.field_id: w.value for w in remaining.values()}
        body_update = {w.field_id: w.value for w in update_writes.values()}
        try:
            await client.edit_issue(key, fields=body_fields or None, update=body_update or None)
        except JiraBadRequest as exc:
            by_id = {w.field_id: n for n, w in {**remaining, **update_writes}.items()}
            refused = {by_id[f]: msg for f, msg in exc.field_errors.items() if f in by_id}
            if not refused or len(refused) == len(names):
                for n in names:
                    outcome.refuse(key, [n], refused.get(n) or str(exc))
                return
            for n, msg in refused.items():
                outcome.refuse(key, [n], msg)
            remaining = {n: w for n, w in remaining.items() if n not in refused}
            update_writes = {n: w for n, w in update_writes.items() if n not in refused}
            continue
        except JiraNotFound as exc:
            outcome.refuse(key, names, str(exc))
            return
        except JiraError as exc:
            outcome.fail(key, names, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            reason = not_sent([key], exc)
            for n in names:
                outcome.refuse(key, [n], reason)
            return
        outcome.wrote(key, names)
        return
