"""Bulk inserts (:mod:`jira_console.store.bulk`) store exactly what SQLAlchemy's own executemany stores, and a
first import that skips its look-ups still finds a row another writer inserted meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text

from jira_console.store import bulk, identity, repo
from jira_console.store import issues as si
from jira_console.store import tables as t
from jira_console.store.db import Database
from jira_console.sync import pull
from jira_console.sync.apply import apply_issue_versions


def _rows(connection: str, when: datetime) -> list[dict[str, Any]]:
    shared_labels = ["a", "b"]  # one object in several rows: converted once, stored in each
    return [
        {
            "connection": connection, "key": f"ENG-{i}", "jira_id": str(100 + i), "summary": f"Ünïcode {i}",
            "labels": shared_labels if i % 2 else [], "fields": {"nested": {"n": i, "x": None}},
            "raw": {"id": str(100 + i), "fields": {"summary": "s"}}, "base": None, "stale_fields": None,
            "story_points": 1.5 * i, "jira_updated_ms": 1_700_000_000_000 + i, "local_dirty": i == 2,
            "deleted": False, "created_at": when, "updated_at": when, "deleted_at": None,
        }
        for i in range(1, 6)
    ]  # fmt: skip


def _stored(db: Database, connection: str) -> list[tuple[Any, ...]]:
    """Every column as the database holds it (JSON as text: a JSON null and SQL NULL differ), by key."""
    columns = [c.name for c in t.issues.columns if c.name not in ("id", "connection")]
    json = ("labels", "fields", "raw", "base", "stale_fields")
    as_text = ", ".join(f"CAST({c} AS TEXT)" if c in json else c for c in columns)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {as_text} FROM issues WHERE connection = :c ORDER BY key"), {"c": connection}
        ).all()
    return [tuple(r) for r in rows]


def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(db: Database) -> None:
    when = datetime(2026, 12, 3, 10, 30, 15, 123456, tzinfo=UTC)
    with db.session(write=True) as s:
        s.execute(insert(t.issues), _rows("orm", when))
        bulk.insert_rows(s, t.issues, _rows("bulk", when))
    by_sqlalchemy, by_bulk = _stored(db, "orm"), _stored(db, "bulk")
    assert len(by_bulk) == 5
    assert by_bulk == by_sqlalchemy
    with db.session() as s:
        row = s.execute(
            select(t.issues).where(t.issues.c.key == "ENG-3", t.issues.c.connection == "bulk")
        ).one()
    assert row.labels == ["a", "b"] and row.fields == {"nested": {"n": 3, "x": None}}
    assert row.created_at == when and row.sync_stamp == 0 and row.local_dirty is False


def test_bulk_rows_get_the_python_defaults_of_the_columns_they_leave_out(db: Database) -> None:
    before = datetime.now(UTC)
    with db.session(write=True) as s:
        bulk.insert_rows(
            s, t.issues, [{"connection": "c", "key": "ENG-1"}, {"connection": "c", "key": "ENG-2"}]
        )
        bulk.insert_rows(s, t.issues, [])  # nothing to do
    with db.session() as s:
        rows = s.execute(select(t.issues).where(t.issues.c.connection == "c").order_by(t.issues.c.key)).all()
    assert [r.key for r in rows] == ["ENG-1", "ENG-2"]
    assert all(r.deleted is False and r.local_dirty is False and r.sync_stamp == 0 for r in rows)
    assert all(r.created_at >= before.replace(microsecond=0) for r in rows)


def test_audit_lines_in_bulk_take_the_cause_in_effect(db: Database) -> None:
    when = datetime(2026, 12, 3, tzinfo=UTC)
    line = {"connection": "c", "issue_key": "ENG-1", "side": "local", "field": None, "old": None, "new": None,
            "reason": "imported from Jira", "actor": "sync", "at": when}  # fmt: skip
    with db.session(write=True) as s:
        repo.append_audit_rows(s, [line, line | {"issue_key": "ENG-2"}])
    with db.session() as s:
        entries = repo.list_audit(s, connection="c")
    assert sorted(e.issue_key for e in entries) == ["ENG-1", "ENG-2"]
    assert all(e.reason == "imported from Jira" and e.at == when for e in entries)


async def test_a_first_import_merges_a_row_another_writer_inserted_meanwhile(rig_factory: Any) -> None:
    """The pull of a first import inserts keys it reads for the first time without looking them up. A row
    inserted meanwhile (the same issue applied by another process, from a webhook) makes the page's insert
    fail; the page is then applied issue by issue with look-ups: the row is kept, no issue is quarantined or
    doubled."""
    rig = await rig_factory("cloud", issues=30, max_page_size=10, tie_fraction=0.0)
    real = pull.apply_page
    calls: list[int] = []
    planted: dict[str, Any] = {}

    def apply_page(io: Any, ctx: Any, issues: Any, mode: Any = None, **kw: Any) -> Any:
        calls.append(len(mode.unseen))
        if len(calls) == 2 and not planted:
            raw = next(i for i in issues if i["key"] in mode.unseen)
            with si.engine_session(rig.db) as other:  # another writer applies the same issue first
                apply_issue_versions(other, ctx, [raw])
                planted["id"] = other.execute(
                    select(t.issues.c.id).where(t.issues.c.key == raw["key"])
                ).scalar_one()
            planted["key"] = raw["key"]
        return real(io, ctx, issues, mode, **kw)

    pull.apply_page = apply_page  # type: ignore[assignment]
    try:
        report = await rig.engine.run(full=True)
    finally:
        pull.apply_page = real  # type: ignore[assignment]
    assert report.status == "ok", report
    assert calls[0] > 0, "the first page of a first import skips its look-ups"
    assert int(rig.sql("SELECT count(*) FROM issues").scalar_one()) == 30
    assert int(rig.sql("SELECT count(*) FROM quarantined_issues").scalar_one()) == 0
    row = rig.sql("SELECT id, summary, jira_id FROM issues WHERE key = :k", k=planted["key"]).one()
    assert row.id == planted["id"] and row.jira_id is not None
    assert row.summary == rig.sim.issue(planted["key"])["summary"]


async def test_a_pull_applies_a_version_it_read_again_only_once(rig_factory: Any) -> None:
    """Key-set pages overlap: each search starts at the previous page's last ``updated`` and reads its last
    issue or two again. The same version read again is counted (read, a duplicate) but not applied again,
    not even looked up; a first import then looks up nothing at all."""
    rig = await rig_factory("cloud", issues=30, max_page_size=10, tie_fraction=0.0)
    real, lookups = pull.apply_page, []
    applied: list[str] = []
    real_lookup = identity.issues_by_key_and_jira_id

    def apply_page(io: Any, ctx: Any, issues: Any, mode: Any = None, **kw: Any) -> Any:
        applied.extend(i["key"] for i in issues)
        return real(io, ctx, issues, mode, **kw)

    def lookup(*args: Any, **kw: Any) -> Any:
        lookups.append(args)
        return real_lookup(*args, **kw)

    pull.apply_page = apply_page  # type: ignore[assignment]
    identity.issues_by_key_and_jira_id = lookup  # type: ignore[assignment]
    try:
        report = await rig.engine.run(full=True)
    finally:
        pull.apply_page = real  # type: ignore[assignment]
        identity.issues_by_key_and_jira_id = real_lookup  # type: ignore[assignment]
    assert report.status == "ok" and report.created == 30
    assert sorted(applied) == sorted(set(applied)) and len(applied) == 30, applied
    assert report.seen > 30, "the pages overlapped: re-read versions are still counted as read"
    assert report.skipped == report.seen - 30
    assert lookups == []


def test_among_selects_what_in_selects_for_any_number_of_values(db: Database) -> None:
    when = datetime(2026, 1, 2, tzinfo=UTC)
    with db.session() as s:
        bulk.insert_rows(s, t.issues, _rows("bulk", when))
    c = t.issues.c
    with db.session() as s:
        for keys in ([], ["ENG-2"], ["ENG-1", "ENG-3", "ENG-9"], [f"ENG-{i}" for i in range(200)]):
            by_array = set(s.scalars(select(c.key).where(c.connection == "bulk", bulk.among(s, c.key, keys))))
            by_list = set(s.scalars(select(c.key).where(c.connection == "bulk", c.key.in_(keys))))
            assert by_array == by_list == {k for k in keys if k in {f"ENG-{i}" for i in range(1, 6)}}
        ids = list(s.scalars(select(c.id).where(c.connection == "bulk").order_by(c.id)))
        picked = set(s.scalars(select(c.id).where(bulk.among(s, c.id, iter(ids[1:3])))))
        assert picked == set(ids[1:3])
        # A value longer than the column matches nothing, not the stored value it starts with.
        s.execute(insert(t.issues).values(connection="bulk", key="K" * 64, jira_id="64", sync_stamp=0))
        assert list(s.scalars(select(c.key).where(bulk.among(s, c.key, ["K" * 64 + "Z"])))) == []
        assert list(s.scalars(select(c.key).where(bulk.among(s, c.key, ["K" * 64])))) == ["K" * 64]
        rendered = str(select(c.id).where(bulk.among(s, c.id, ids)).compile(s.get_bind()))
    # On PostgreSQL one bound array (the same text for any number of ids), elsewhere an IN list.
    assert ("ANY" in rendered) == (db.dialect == "postgresql")
