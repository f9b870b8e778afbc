"""The database side of a sync: applying Jira versions of issues through the merge, and recording what
happened (audit, conflicts, field errors). Blocking SQLAlchemy code, run by the engine in a thread.

Every engine write to ``issues`` bumps ``sync_stamp`` so the change-capture trigger does not mistake it for
a host program's edit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from jira_console.store import models as m
from jira_console.store import repo
from jira_console.sync.fields import (
    CORE_FIELDS,
    CodecContext,
    DefaultUsed,
    FieldCodec,
    MappedField,
    parse_jira_time,
)
from jira_console.sync.merge import FieldDecision, canonical, merge_issue, same

ISSUES_TABLE = cast(Table, m.Issue.__table__)
AUDIT_TABLE = cast(Table, m.AuditLog.__table__)


@dataclass
class ApplyResult:
    """What applying a batch of Jira issue versions did."""

    seen: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    stale: int = 0
    pulled_fields: int = 0
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)
    """(conflict id, issue key, field) of conflicts opened or refreshed."""
    max_updated_ms: int | None = None
    keys_at_max: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    """issue key -> applied | created | stale | duplicate."""


def local_value(row: m.Issue, name: str) -> Any:
    if name in CORE_FIELDS:
        return getattr(row, name)
    return (row.fields or {}).get(name)


def set_local_value(row: m.Issue, name: str, value: Any) -> None:
    if name in CORE_FIELDS:
        setattr(row, name, value)
    else:
        fields = dict(row.fields or {})
        fields[name] = value
        row.fields = fields


def local_values(row: m.Issue, codecs: Iterable[FieldCodec]) -> dict[str, Any]:
    return {c.name: local_value(row, c.name) for c in codecs}


def decode_issue(
    raw: Mapping[str, Any], codecs: Sequence[FieldCodec], ctx: CodecContext, mapping_ctx: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(field name -> canonical local value, field name -> error) for one raw Jira issue. Fields whose
    Jira field is absent from the payload are left out (not returned is not the same as empty)."""
    fields = raw.get("fields") or {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for codec in codecs:
        if codec.direction == "push":
            continue
        if codec.jira_field not in fields and codec.jira_field != "*":
            continue
        try:
            use_ctx = mapping_ctx if isinstance(codec, MappedField) else ctx
            values[codec.name] = canonical(codec.from_jira(fields, use_ctx))
        except DefaultUsed as exc:
            values[codec.name] = canonical(exc.default)
            errors[codec.name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one field failing must not stop the issue
            errors[codec.name] = str(exc) or type(exc).__name__
    return values, errors


def _bump(row: m.Issue) -> None:
    row.sync_stamp = (row.sync_stamp or 0) + 1


def audit(
    session: Session,
    connection: str,
    key: str | None,
    side: str,
    field_name: str | None,
    old: Any,
    new: Any,
    reason: str,
    actor: str,
) -> None:
    # Added to the session, not flushed one by one: a page's audit rows go out together at commit.
    session.add(
        m.AuditLog(
            connection=connection,
            side="jira" if side == "jira" else "local",
            field=field_name,
            old=old,
            new=new,
            issue_key=key,
            reason=reason[:255],
            actor=actor,
            at=datetime.now(UTC),
        )
    )


def upsert_conflict(session: Session, connection: str, row: m.Issue, d: FieldDecision) -> int:
    return repo.open_conflict(session, row.id, d.field, base=d.base, local=d.local, jira=d.jira).id


def close_converged_conflicts(
    session: Session, row: m.Issue, agreed: Iterable[str], actor: str, *, may_have_open: bool = True
) -> None:
    """Open conflicts on fields where both sides now hold the same value need no person any more."""
    names = list(agreed)
    if not names or not may_have_open:
        return
    for c in session.scalars(
        select(m.Conflict).where(
            m.Conflict.issue_id == row.id, m.Conflict.status == "open", m.Conflict.field.in_(names)
        )
    ):
        c.status = "resolved"
        c.resolution = "converged"
        c.resolved_value = local_value(row, c.field)
        c.resolved_by = actor
        c.resolved_at = datetime.now(UTC)


def record_field_errors(
    session: Session,
    row: m.Issue,
    errors: Mapping[str, str],
    clear: Iterable[str],
    *,
    had_errors: bool = True,
) -> None:
    """Store one error per failing field; drop errors of fields that now convert (only looked up when the
    issue had errors before, so a clean page costs no extra statements)."""
    if had_errors:
        for name in clear:
            if name not in errors:
                repo.clear_field_error(session, row.id, name)
    for name, message in errors.items():
        repo.record_field_error(session, row.id, name, message[:4000])


def recognise_own_writes(row: m.Issue, values: Mapping[str, Any], walking: Iterable[str]) -> dict[str, Any]:
    """The base to merge with, given what Jira holds now and the writes the engine had started
    (``issues.pushing``, recorded before sending). A field where Jira holds the value we were writing got our
    write (even if the process died before recording it): that value becomes the base and the intent is done.
    A field changed through a walk of transitions (status) that Jira shows at another value than the base
    stopped part-way on our own walk: that intermediate value becomes the base, so the walk goes on instead of
    the field being taken for a concurrent edit."""
    base = dict(row.base or {})
    pushing = dict(row.pushing or {})
    if not pushing:
        return base
    walking = set(walking)
    for name, intended in list(pushing.items()):
        if name not in values:
            continue
        jira = values[name]
        if same(jira, intended):
            base[name] = jira
            del pushing[name]
        elif name in walking and not same(jira, base.get(name)):
            base[name] = jira
    row.pushing = pushing or None
    return base


def _meta_values(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The pull-only columns an issue's raw JSON gives (ids, project, type, creation time)."""
    fields = raw.get("fields") or {}
    out: dict[str, Any] = {}
    if raw.get("id") is not None:
        out["jira_id"] = str(raw["id"])
    project = fields.get("project")
    if isinstance(project, Mapping) and project.get("key"):
        out["project_key"] = project["key"]
    elif "-" in key:
        out["project_key"] = key.rsplit("-", 1)[0]
    itype = fields.get("issuetype")
    if isinstance(itype, Mapping) and itype.get("name"):
        out["issue_type"] = itype["name"]
    created = parse_jira_time(fields.get("created"))
    if created is not None:
        out["jira_created_ms"] = created
    return out


def _meta_from_raw(row: m.Issue, raw: Mapping[str, Any]) -> None:
    # The project named in the payload wins; the key's prefix only fills a gap.
    has_project = isinstance((raw.get("fields") or {}).get("project"), Mapping)
    for name, value in _meta_values(row.key, raw).items():
        if name != "project_key" or has_project or row.project_key is None:
            setattr(row, name, value)


def merge_raw(
    raw: Mapping[str, Any],
    previous_raw: Mapping[str, Any] | None,
    keep_raw_fields: Iterable[str] = (),
) -> dict[str, Any]:
    """The raw representation to keep: the new one, except fields the caller asks to keep from before
    (a Cloud webhook's v2 description must not replace the v3 ADF kept for rich-text writes)."""
    keep = [f for f in keep_raw_fields if previous_raw and f in (previous_raw.get("fields") or {})]
    if not keep:
        return dict(raw)
    merged = dict(raw)
    merged_fields = dict(raw.get("fields") or {})
    for f in keep:
        merged_fields[f] = (previous_raw or {}).get("fields", {}).get(f)
    merged["fields"] = merged_fields
    return merged


@dataclass
class RowMerge:
    """What merging one Jira version into a row decided (already applied to the row, except pushes)."""

    base: dict[str, Any]
    pushes: list[FieldDecision]
    conflicts: list[tuple[int, str, str]]
    pulled: int


def merge_into_row(
    session: Session,
    connection: str,
    row: m.Issue,
    values: Mapping[str, Any],
    codecs: Sequence[FieldCodec],
    *,
    updated_ms: int | None,
    strategies: Mapping[str, str],
    default_strategy: str,
    actor: str,
    may_have_open_conflicts: bool = True,
) -> RowMerge:
    """Three-way merge of Jira's ``values`` into ``row`` (shared by the pull and the push's fresh compare):
    Jira-side changes are written to the row and audited, agreed fields move the base, conflicts are opened,
    converged conflicts closed. Fields to push are returned, not written."""
    base = recognise_own_writes(row, values, [c.name for c in codecs if c.jira_field == "status"])
    local = local_values(row, codecs)
    decisions = merge_issue(
        [c.name for c in codecs],
        base,
        local,
        values,
        strategies=strategies,
        default_strategy=default_strategy,
        local_changed_ms=int(row.local_changed_at.timestamp() * 1000) if row.local_changed_at else None,
        jira_updated_ms=updated_ms,
    )
    out = RowMerge(base, [], [], 0)
    agreed: list[str] = []
    for d in decisions:
        if d.action == "pull":
            if not same(local.get(d.field), d.value):
                audit(
                    session,
                    connection,
                    row.key,
                    "local",
                    d.field,
                    local.get(d.field),
                    d.value,
                    d.reason,
                    actor,
                )
                set_local_value(row, d.field, d.value)
                out.pulled += 1
            base[d.field] = d.value
            agreed.append(d.field)
        elif d.action in ("rebase", "none"):
            base[d.field] = d.value
            agreed.append(d.field)
        elif d.action == "conflict":
            out.conflicts.append((upsert_conflict(session, connection, row, d), row.key, d.field))
        else:
            out.pushes.append(d)
    close_converged_conflicts(session, row, agreed, actor, may_have_open=may_have_open_conflicts)
    return out


def apply_issue_versions(
    session: Session,
    connection: str,
    raws: Sequence[Mapping[str, Any]],
    codecs: Sequence[FieldCodec],
    ctx: CodecContext,
    *,
    strategies: Mapping[str, str],
    default_strategy: str,
    actor: str,
    mapping_ctx: Any = None,
    skip_fields: Iterable[str] = (),
    keep_raw_fields: Iterable[str] = (),
    allow_equal: bool = False,
) -> ApplyResult:
    """Merge Jira versions of issues into the local rows.

    Versions not newer than what is stored are skipped (dedupe on (issue, updated)); ``allow_equal``
    re-applies an equal version (after our own write)."""
    result = ApplyResult()
    skip = set(skip_fields)
    active = [c for c in codecs if c.name not in skip]
    by_key: dict[str, Mapping[str, Any]] = {}
    for raw in raws:
        key = raw.get("key")
        if not key:
            continue
        prev = by_key.get(key)
        # Within a batch only the newest version of an issue counts, whatever order they came in.
        if prev is None or (parse_jira_time((raw.get("fields") or {}).get("updated")) or 0) >= (
            parse_jira_time((prev.get("fields") or {}).get("updated")) or 0
        ):
            by_key[key] = raw
    if not by_key:
        return result
    rows = {
        r.key: r
        for r in session.scalars(
            select(m.Issue)
            .where(m.Issue.connection == connection, m.Issue.key.in_(list(by_key)))
            .with_for_update()
        )
    }
    row_ids = [r.id for r in rows.values()]
    with_errors = set(
        session.scalars(select(m.FieldError.issue_id).where(m.FieldError.issue_id.in_(row_ids)))
    )
    with_conflicts = set(
        session.scalars(
            select(m.Conflict.issue_id).where(m.Conflict.issue_id.in_(row_ids), m.Conflict.status == "open")
        )
    )
    # New issues are inserted together (one flush) and their import audited in one statement: a first
    # import of tens of thousands of issues must not pay a round trip per row.
    new_rows: list[tuple[dict[str, Any], dict[str, str]]] = []
    imported: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for key, raw in by_key.items():
        result.seen += 1
        fields = raw.get("fields") or {}
        updated_ms = parse_jira_time(fields.get("updated"))
        if updated_ms is not None:
            if result.max_updated_ms is None or updated_ms > result.max_updated_ms:
                result.max_updated_ms = updated_ms
                result.keys_at_max = [key]
            elif updated_ms == result.max_updated_ms:
                result.keys_at_max.append(key)
        row = rows.get(key)
        if row is not None and row.jira_updated_ms is not None and updated_ms is not None:
            if updated_ms < row.jira_updated_ms:
                result.stale += 1
                result.statuses[key] = "stale"
                continue
            if updated_ms == row.jira_updated_ms and not allow_equal and not row.deleted:
                result.skipped += 1
                result.statuses[key] = "duplicate"
                continue
        values, errors = decode_issue(raw, active, ctx, mapping_ctx)
        if row is None:
            mapped: dict[str, Any] = {}
            new: dict[str, Any] = {name: None for name in CORE_FIELDS} | {"labels": [], "fields": mapped}
            for name, value in values.items():
                if name in CORE_FIELDS:
                    new[name] = value
                else:
                    mapped[name] = value
            new |= _meta_values(key, raw) | {
                "connection": connection, "key": key, "sync_stamp": 1, "local_dirty": False, "deleted": False,
                "base": dict(values), "raw": dict(raw), "jira_updated_ms": updated_ms,
                "created_at": now, "updated_at": now,
            }  # fmt: skip
            new_rows.append((new, errors))
            imported.append(
                {"connection": connection, "issue_key": key, "side": "local", "field": None, "old": None,
                 "new": None, "reason": "imported from Jira", "actor": actor, "at": now}
            )  # fmt: skip
            result.created += 1
            result.statuses[key] = "created"
            continue
        merged = merge_into_row(
            session,
            connection,
            row,
            values,
            active,
            updated_ms=updated_ms,
            strategies=strategies,
            default_strategy=default_strategy,
            actor=actor,
            may_have_open_conflicts=row.id in with_conflicts,
        )
        result.pulled_fields += merged.pulled
        result.conflicts.extend(merged.conflicts)
        base = merged.base
        # Fields to push stay as they are locally: the push phase writes them after a fresh compare.
        record_field_errors(session, row, errors, [c.name for c in active], had_errors=row.id in with_errors)
        _meta_from_raw(row, raw)
        row.base = base
        row.raw = merge_raw(raw, row.raw, keep_raw_fields)
        row.jira_updated_ms = updated_ms if updated_ms is not None else row.jira_updated_ms
        if row.deleted:
            row.deleted = False
        _bump(row)
        result.updated += 1
        result.statuses[key] = "applied"
    if new_rows:
        # Core executemany, not ORM objects: a first import inserts tens of thousands of rows.
        # The Table, not the mapped class: one DB-API executemany instead of the ORM's per-row bookkeeping.
        meta_keys = ("jira_id", "project_key", "issue_type", "jira_created_ms")
        table_rows = [{k: None for k in meta_keys} | row for row, _ in new_rows]
        session.execute(insert(ISSUES_TABLE), table_rows)
        failing = {row["key"]: errors for row, errors in new_rows if errors}
        if failing:
            for issue in session.scalars(
                select(m.Issue).where(m.Issue.connection == connection, m.Issue.key.in_(list(failing)))
            ):
                record_field_errors(session, issue, failing[issue.key], (), had_errors=False)
        session.execute(insert(AUDIT_TABLE), imported)
    return result


def advance_watermark(session: Session, connection: str, scope: str, result: ApplyResult) -> None:
    """Checkpoint after a page, in the same transaction as the page's data."""
    if result.max_updated_ms is None:
        return
    state = session.get(m.SyncState, (connection, scope))
    if state is None:
        state = m.SyncState(connection=connection, scope=scope)
        session.add(state)
    if state.watermark_ms is None or result.max_updated_ms > state.watermark_ms:
        state.watermark_ms = result.max_updated_ms
        state.watermark_keys = sorted(result.keys_at_max)
    elif result.max_updated_ms == state.watermark_ms:
        state.watermark_keys = sorted(set(state.watermark_keys or []) | set(result.keys_at_max))
