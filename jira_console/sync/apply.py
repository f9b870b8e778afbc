"""Applying Jira versions of issues to the local rows: decode each version, merge it per field with the row
(three-way, shared with the push's fresh compare), insert new issues, record conflicts and field errors.
An issue is its Jira id: a version under another key than the row's moves the row to that key. Pages
are applied through :mod:`jira_console.sync.page`. Blocking SQLAlchemy code, run by the async steps in a
thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from jira_console.store import identity, repo
from jira_console.store import issues as si
from jira_console.store.issues import CORE_FIELDS, local_values, set_local_value
from jira_console.store.models import Issue, utcnow
from jira_console.sync import base_from, queued_strategy
from jira_console.sync.context import SyncContext
from jira_console.sync.crash_window import recognise_own_writes
from jira_console.sync.fields import DefaultUsed, FieldCodec, MappedField, parse_jira_time
from jira_console.sync.merge import MAPPINGS_CHANGED, FieldDecision, canonical, merge_issue, same
from jira_console.sync.report import Tally


@dataclass
class ApplyResult(Tally):
    """What applying a batch of Jira issue versions did."""

    stale: int = 0
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)
    """(conflict id, issue key, field) of conflicts opened or refreshed."""
    max_updated_ms: int | None = None
    keys_at_max: list[str] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    """issue key -> applied | created | stale | duplicate | deleted (a webhook body for a deleted issue) |
    unordered (a webhook body that its time cannot order against another version: read the issue afresh) |
    quarantined."""
    moved: list[tuple[str, str]] = field(default_factory=list)
    """(old key, new key) of issues found under a new key."""
    quarantined: int = 0

    def saw(self, key: str, updated_ms: int | None) -> None:
        """Count a version and keep track of the newest ``updated`` of the batch (the next watermark)."""
        self.seen += 1
        if updated_ms is None:
            return
        if self.max_updated_ms is None or updated_ms > self.max_updated_ms:
            self.max_updated_ms = updated_ms
            self.keys_at_max = [key]
        elif updated_ms == self.max_updated_ms:
            self.keys_at_max.append(key)


def updated_of(raw: Mapping[str, Any]) -> int | None:
    """A raw issue's ``updated`` in epoch milliseconds."""
    return parse_jira_time((raw.get("fields") or {}).get("updated"))


def decode_issue(
    raw: Mapping[str, Any], codecs: Sequence[FieldCodec], ctx: SyncContext
) -> tuple[dict[str, Any], dict[str, str]]:
    """(field name -> canonical local value, field name -> error) for one raw Jira issue. Fields whose
    Jira field is absent from the payload are left out (not returned is not the same as empty)."""
    fields = raw.get("fields") or {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for codec in codecs:
        if codec.direction == "push":
            continue
        present = getattr(codec, "present", None)
        if present is not None and not present(fields):
            continue  # the field of this issue (e.g. its board's story points) is absent: not empty
        if present is None and codec.jira_field not in fields and codec.jira_field != "*":
            continue
        try:
            use_ctx = ctx.mapping_ctx if isinstance(codec, MappedField) else ctx.codec_ctx
            values[codec.name] = canonical(codec.from_jira(fields, use_ctx))
        except DefaultUsed as exc:
            values[codec.name] = canonical(exc.default)
            errors[codec.name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one field failing must not stop the issue
            errors[codec.name] = str(exc) or type(exc).__name__
    return values, errors


def record_field_errors(
    session: Session,
    row: Issue,
    errors: Mapping[str, str],
    clear: Iterable[str],
    *,
    had_errors: bool = True,
) -> None:
    """Store one error per failing field; drop errors of the fields in ``clear`` that do not fail now (only
    looked up when the issue had errors before, so a clean page costs no extra statements)."""
    if had_errors:
        for name in clear:
            if name not in errors:
                repo.clear_field_error(session, row.id, name)
    for name, message in errors.items():
        repo.record_field_error(session, row.id, name, message[:4000])


def meta_values(key: str, raw: Mapping[str, Any]) -> dict[str, Any]:
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


def _meta_from_raw(row: Issue, raw: Mapping[str, Any]) -> None:
    # The project named in the payload wins; the key's prefix only fills a gap.
    has_project = isinstance((raw.get("fields") or {}).get("project"), Mapping)
    for name, value in meta_values(row.key, raw).items():
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


def settled_fields(row: Issue, base: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """The fields whose local value agrees with ``base`` after a merge: nothing of theirs waits any more, so
    an error recorded for them is history. A field whose local change still waits keeps its error -- a value
    Jira refused, or one its editmeta does not offer, is parked (not dirty, not sent again until it changes)
    and that error is all that says why the local value is not Jira's; a Jira version read again (an edit of
    another field, a mapping back-fill, a webhook) changes nothing of that."""
    local = local_values(row, list(names))
    return [name for name, value in local.items() if same(value, base.get(name))]


@dataclass
class RowMerge:
    """What merging one Jira version into a row decided (already applied to the row, except pushes)."""

    base: dict[str, Any]
    pushes: list[FieldDecision]
    conflicts: list[tuple[int, str, str]]
    pulled: int


def merge_into_row(
    session: Session,
    ctx: SyncContext,
    row: Issue,
    values: Mapping[str, Any],
    codecs: Sequence[FieldCodec],
    *,
    updated_ms: int | None,
    may_have_open_conflicts: bool = True,
    audit: list[dict[str, Any]] | None = None,
) -> RowMerge:
    """Three-way merge of Jira's ``values`` into ``row`` (shared by the pull and the push's fresh compare):
    Jira-side changes are written to the row and audited, agreed fields move the base, conflicts are opened,
    converged conflicts closed. Fields to push are returned, not written. ``audit``: where the audit lines
    of the changes go, for one insert of a whole batch's (by default, to the session one by one)."""
    base = recognise_own_writes(row, values, [c.name for c in codecs if c.jira_field == "status"])
    local = local_values(row, [c.name for c in codecs])
    decisions = merge_issue(
        [c.name for c in codecs],
        base,
        local,
        values,
        strategies=queued_strategy.strategies(row, ctx.strategies, local),
        default_strategy=ctx.default_strategy,
        local_changed_ms=int(row.local_changed_at.timestamp() * 1000) if row.local_changed_at else None,
        jira_updated_ms=updated_ms,
    )
    out = RowMerge(base, [], [], 0)
    agreed: list[str] = []
    # The version the row already holds, read again (a back-fill): a value it now decodes differently was
    # changed by the mappings, not in Jira, and the audit line says so.
    again = updated_ms is not None and row.jira_updated_ms == updated_ms
    for d in decisions:
        if d.action == "pull":
            if not same(local.get(d.field), d.value):
                reason = MAPPINGS_CHANGED if again and d.reason == "changed in Jira" else d.reason
                repo.append_audit(
                    session if audit is None else audit, ctx.name, "local", d.field, local.get(d.field),
                    d.value, issue_key=row.key, reason=reason, actor=ctx.actor,
                )  # fmt: skip
                set_local_value(row, d.field, d.value)
                out.pulled += 1
            base[d.field] = d.value
            agreed.append(d.field)
        elif d.action in ("rebase", "none"):
            base[d.field] = d.value
            agreed.append(d.field)
        elif d.action == "conflict":
            jira_at = datetime.fromtimestamp(updated_ms / 1000, UTC) if updated_ms else None
            conflict = repo.open_conflict(
                session, row.id, d.field, base=d.base, local=d.local, jira=d.jira, jira_edited_at=jira_at
            )
            out.conflicts.append((conflict.id, row.key, d.field))
        else:
            out.pushes.append(d)
    queued_strategy.settle(row, decisions)
    if may_have_open_conflicts and agreed:
        repo.close_converged_conflicts(session, row.id, local_values(row, agreed), ctx.actor)
    return out


class _VersionsApplier:
    """One batch of versions against the rows they belong to (see :func:`apply_issue_versions`)."""

    def __init__(self, session: Session, ctx: SyncContext, mode: ApplyMode) -> None:
        self.session = session
        self.ctx = ctx
        self.codecs = [c for c in ctx.codecs if c.name not in mode.skip_fields]
        self.keep_raw_fields = mode.keep_raw_fields
        self.mode = mode
        self.partial = sorted(c.name for c in ctx.codecs if c.name in mode.skip_fields) or None
        """Fields a version applied in this mode does not carry: not current afterwards (stale_fields)."""
        self.result = ApplyResult()
        self.new_rows: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.audit: list[dict[str, Any]] = []
        """The batch's audit lines, in the order they were written, for one insert at the end."""
        self.now: datetime = utcnow()
        self.with_errors: set[int] = set()
        self.with_conflicts: set[int] = set()

    def load(self, versions: Mapping[str, Mapping[str, Any]]) -> dict[str, Issue]:
        """The row of each version: the one with its Jira id (whatever key it has locally), else the one
        with its key when that row's Jira id is unknown or the same."""
        versions = {key: raw for key, raw in versions.items() if key not in self.mode.unseen}
        if not versions:
            return {}
        jira_ids = {key: str(raw["id"]) for key, raw in versions.items() if raw.get("id") is not None}
        # A webhook body is nearly always newer than the stored version, whose raw JSON it then replaces
        # unread (unless fields of it are kept); a read of Jira (a pull) often meets the stored version
        # again, and compares contents with it: there the raw JSON is read with the rows, not row by row.
        by_key, by_id = identity.issues_by_key_and_jira_id(
            self.session, self.ctx.name, versions, jira_ids.values(), lock=True,
            with_raw=bool(self.keep_raw_fields) or not self.mode.webhook,
        )  # fmt: skip
        rows: dict[str, Issue] = {}
        for key in versions:
            jira_id = jira_ids.get(key)
            row = by_id.get(jira_id) if jira_id else None
            if row is None:
                row = by_key.get(key)
                if row is not None and jira_id and row.jira_id and row.jira_id != jira_id:
                    row = None  # the key now names another issue: inserting it says so (quarantine)
            if row is not None:
                rows[key] = row
        ids = [r.id for r in rows.values()]
        self.with_errors = repo.issues_with_field_errors(self.session, ids)
        self.with_conflicts = repo.issues_with_open_conflicts(self.session, ids)
        return rows

    def add_new(self, key: str, raw: Mapping[str, Any], updated_ms: int | None) -> None:
        """A first sight: kept for one insert of the whole batch, its import audited in one statement."""
        values, errors = decode_issue(raw, self.codecs, self.ctx)
        mapped: dict[str, Any] = {}
        new: dict[str, Any] = {name: None for name in CORE_FIELDS} | {"labels": [], "fields": mapped}
        for name, value in values.items():
            if name in CORE_FIELDS:
                new[name] = value
            else:
                mapped[name] = value
        meta = dict.fromkeys(("jira_id", "project_key", "issue_type", "jira_created_ms"))
        new |= meta | meta_values(key, raw) | {
            "connection": self.ctx.name, "key": key, "local_dirty": False, "deleted": False,
            "base": dict(values), "raw": dict(raw), "jira_updated_ms": updated_ms,
            "base_from": base_from.sources(values, raw.get("fields") or {}, values, self.codecs),
            "created_at": self.now, "updated_at": self.now, "deleted_at": None, "stale_fields": self.partial,
        }  # fmt: skip
        self.new_rows.append((new, errors))
        repo.append_audit(
            self.audit, self.ctx.name, "local", issue_key=key, reason="imported from Jira",
            actor=self.ctx.actor, at=self.now,
        )  # fmt: skip
        self.result.created += 1
        self.result.statuses[key] = "created"

    def merge(self, row: Issue, raw: Mapping[str, Any], updated_ms: int | None) -> None:
        """A newer version of a stored issue: merged per field; fields to push stay as they are locally (the
        push phase writes them after a fresh compare)."""
        values, errors = decode_issue(raw, self.codecs, self.ctx)
        fields = raw.get("fields") or {}
        base_from.reexpress(row, fields, values, self.codecs, errors)  # a mapping changed since the base
        merged = merge_into_row(
            self.session, self.ctx, row, values, self.codecs,
            updated_ms=updated_ms, may_have_open_conflicts=row.id in self.with_conflicts, audit=self.audit,
        )  # fmt: skip
        self.result.pulled_fields += merged.pulled
        self.result.conflicts.extend(merged.conflicts)
        had_errors = row.id in self.with_errors
        settled = settled_fields(row, merged.base, [c.name for c in self.codecs]) if had_errors else []
        record_field_errors(self.session, row, errors, settled, had_errors=had_errors)
        _meta_from_raw(row, raw)
        row.base = merged.base
        base_from.note(row, fields, values, self.codecs)
        row.raw = merge_raw(raw, row.raw, self.keep_raw_fields) if self.keep_raw_fields else dict(raw)
        row.jira_updated_ms = updated_ms if updated_ms is not None else row.jira_updated_ms
        row.stale_fields = self.partial
        if row.deleted:
            # Only a fresh read gets here (a webhook body never brings a deleted issue back).
            row.deleted, row.deleted_at = False, None
            repo.append_audit(
                self.audit, self.ctx.name, "local", issue_key=row.key, actor=self.ctx.actor,
                reason="Jira returned the issue again after its deletion",
            )  # fmt: skip
        self.result.updated += 1
        self.result.statuses[row.key] = "applied"

    def verdict(self, row: Issue, raw: Mapping[str, Any], updated_ms: int | None) -> str | None:
        """Why a version is not applied to its row (stale, duplicate, deleted, unordered), or None to apply
        it. Jira's ``updated`` has millisecond precision and two changes can share one (a move and an edit
        made in the same millisecond), so a version dated like the stored one is a duplicate only when its
        content is the same too. With other content, a fresh read is Jira's present and is applied; a
        webhook body cannot be ordered against the stored version by its time: ``unordered``."""
        mode = self.mode
        if row.deleted and mode.webhook:
            return "deleted"
        if row.jira_updated_ms is None or updated_ms is None:
            return None
        if updated_ms < row.jira_updated_ms:
            return "stale"
        if updated_ms > row.jira_updated_ms or mode.allow_equal or row.deleted:
            return None
        if row.stale_fields and not set(row.stale_fields) <= mode.skip_fields:
            return None  # the stored version lacked fields this one carries
        if self.same_content(row.raw, raw):
            return "duplicate"
        return "unordered" if mode.webhook else None

    def same_content(self, stored: Mapping[str, Any] | None, raw: Mapping[str, Any]) -> bool:
        """Whether two versions hold the same values for the fields this batch applies (decoded, so a
        Cloud webhook's v2 body and a v3 read of one version compare equal)."""
        if not stored:
            return True  # nothing to compare with: the time alone decides, as it always did
        return decode_issue(stored, self.codecs, self.ctx)[0] == decode_issue(raw, self.codecs, self.ctx)[0]

    def write(self) -> None:
        """Insert the batch's new issues, then its audit lines."""
        if self.new_rows:
            self.insert_new()
        repo.append_audit_rows(self.session, self.audit)

    def insert_new(self) -> None:
        si.insert_issues(self.session, [row for row, _ in self.new_rows])
        # A key taken again by another issue (a project key freed by a rename) no longer names the old one.
        identity.forget_aliases(self.session, self.ctx.name, [row["key"] for row, _ in self.new_rows])
        failing = {row["key"]: errors for row, errors in self.new_rows if errors}
        if failing:
            for issue in si.issues_by_key(self.session, self.ctx.name, failing).values():
                record_field_errors(self.session, issue, failing[issue.key], (), had_errors=False)


def newest_versions(raws: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Key -> the newest version of each issue among ``raws`` (whatever order they came in), an issue being
    its Jira id (the same issue may come under its old and its new key); versions without a key are left
    out."""
    newest: dict[str, Mapping[str, Any]] = {}
    for raw in raws:
        key = raw.get("key")
        if not key:
            continue
        ident = f"id:{raw['id']}" if raw.get("id") is not None else f"key:{key}"
        prev = newest.get(ident)
        if prev is None or (updated_of(raw) or 0) >= (updated_of(prev) or 0):
            newest[ident] = raw
    return {str(raw["key"]): raw for raw in newest.values()}


def unordered_ties(raws: Iterable[Mapping[str, Any]]) -> set[str]:
    """Keys of issues whose newest ``updated`` is carried by versions with different fields: which of them
    is Jira's present cannot be told from their time (two changes in one millisecond)."""
    newest: dict[str, tuple[int, Any, str]] = {}
    tied: set[str] = set()
    for raw in raws:
        key, updated = raw.get("key"), updated_of(raw)
        if not key or updated is None:
            continue
        ident = f"id:{raw['id']}" if raw.get("id") is not None else f"key:{key}"
        fields = raw.get("fields")
        prev = newest.get(ident)
        if prev is None or updated > prev[0]:
            newest[ident] = (updated, fields, str(key))
            tied.discard(ident)
        elif updated == prev[0] and fields != prev[1]:
            newest[ident] = (updated, fields, str(key))
            tied.add(ident)
    return {newest[ident][2] for ident in tied}


@dataclass(frozen=True)
class ApplyMode:
    """How a batch of versions is applied."""

    skip_fields: frozenset[str] = frozenset()
    """Fields left as they are locally (a Cloud webhook's v2 rich text cannot be trusted)."""
    keep_raw_fields: tuple[str, ...] = ()
    """Jira fields whose previous raw value is kept (the v3 ADF that rich-text writes start from)."""
    allow_equal: bool = False
    """Apply a version equal to the stored one again (after a mapping change)."""
    webhook: bool = False
    """The versions are webhook bodies, not fresh reads: they never bring a deleted issue back."""
    unseen: frozenset[str] = frozenset()
    """Keys known to have no row, so not looked up: a first import's pull reads each key and Jira id for the
    first time into a store that held none of the connection's issues. A row another writer inserted
    meanwhile makes the insert fail, and the page is applied again one issue at a time with look-ups."""


def apply_issue_versions(
    session: Session, ctx: SyncContext, raws: Sequence[Mapping[str, Any]], mode: ApplyMode = ApplyMode()
) -> ApplyResult:
    """Merge Jira versions of issues into the local rows. Versions older than what is stored are skipped,
    and those dated the same with the same content (dedupe on (issue, updated, content)) unless the mode
    allows equal ones; see :meth:`_VersionsApplier.verdict`."""
    batch = _VersionsApplier(session, ctx, mode)
    result = batch.result
    by_key = newest_versions(raws)
    if not by_key:
        return result
    rows = batch.load(by_key)
    ties = unordered_ties(raws) if mode.webhook else set()
    for key, raw in by_key.items():
        updated_ms = updated_of(raw)
        result.saw(key, updated_ms)
        row = rows.get(key)
        if key in ties:
            result.statuses[key] = "unordered"  # bodies of one millisecond: read afresh, not guessed
            result.skipped += 1
            continue
        if row is None:
            batch.add_new(key, raw, updated_ms)
            continue
        verdict = batch.verdict(row, raw, updated_ms)
        if row.key != key and (verdict is None or (verdict == "duplicate" and not mode.webhook)):
            # A project key rename leaves ``updated`` as it was: a fresh read of the same version under a
            # new key moves the row too (a webhook body's key is as old as the body: only a newer one).
            old_key = identity.rekey(session, row, key, meta_values(key, raw).get("project_key"),
                                     actor=ctx.actor)  # fmt: skip
            result.moved.append((old_key, key))
        if verdict is not None:
            result.statuses[key] = verdict
            if verdict == "stale":
                result.stale += 1
            else:
                result.skipped += 1
            continue
        batch.merge(row, raw, updated_ms)
    batch.write()
    return result
