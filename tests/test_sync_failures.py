"""Failures told without the data they carried (issue 11): the kind and the rule, never a field value."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from jira_console.sync.failures import StoreFailure, describe, told_without_data

CANARY = "canary-summary-0b7a-do-not-print"


class _Diag:
    constraint_name = "uq_issues_connection_key"


class _PgUniqueViolation(Exception):
    diag = _Diag()


def _sqlite_integrity_error() -> IntegrityError:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (k TEXT UNIQUE, summary TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('ENG-1', :s)"), {"s": CANARY})
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('ENG-1', :s)"), {"s": CANARY})
    except IntegrityError as exc:
        assert CANARY in str(exc)  # the driver's error quotes the row: that is what must not get out
        return exc
    raise AssertionError("no error")


def test_a_database_error_is_told_by_its_rule_without_the_row() -> None:
    failure = describe(_sqlite_integrity_error())
    assert failure.kind == "IntegrityError" and "UNIQUE constraint failed" in failure.cause
    assert CANARY not in str(failure)


def test_a_postgresql_style_message_keeps_the_constraint_and_drops_detail_and_literals() -> None:
    orig = _PgUniqueViolation(
        'duplicate key value violates unique constraint "uq_issues_connection_key"\n'
        f"DETAIL:  Key (connection, key)=(sim, {CANARY}) already exists."
    )
    exc = IntegrityError("INSERT INTO issues ...", {"summary": CANARY}, orig)
    failure = describe(exc)
    assert failure.kind == "_PgUniqueViolation"
    assert failure.cause.endswith("(uq_issues_connection_key)") and CANARY not in failure.cause
    literal = IntegrityError("x", {}, ValueError(f'invalid input syntax for type integer: "{CANARY}"'))
    assert CANARY not in str(describe(literal))


def test_any_other_error_is_told_by_its_class_only() -> None:
    assert CANARY not in str(describe(ValueError(f"cannot convert {CANARY!r}")))


def test_told_without_data_leaves_the_message_and_its_chain_behind() -> None:
    with pytest.raises(StoreFailure) as caught:
        with told_without_data():
            raise _sqlite_integrity_error()
    assert CANARY not in str(caught.value) and caught.value.__suppress_context__
    assert caught.value.__cause__ is None


async def test_a_sync_that_fails_in_the_store_records_and_raises_no_row(rig_factory, monkeypatch) -> None:
    """A failure outside any one issue (here: the watermark's checkpoint) fails the run; what `status`,
    the daemon's log and the caller see is the kind and the rule, not the statement's parameters."""
    from jira_console.store import state as st
    from jira_console.sync import page

    rig = await rig_factory("server", issues=5)

    def broken(*_args, **_kwargs):
        raise IntegrityError("UPDATE sync_state ...", {"summary": CANARY}, Exception("a rule broke"))

    monkeypatch.setattr(page.st, "advance_watermark", broken)
    with pytest.raises(StoreFailure) as caught:
        await rig.engine.run(full=True)
    assert CANARY not in str(caught.value) and "a rule broke" in str(caught.value)
    with rig.db.session() as s:
        state = st.get_sync_state(s, rig.engine.conn.name, "issues")
    assert state.last_status == "failed" and CANARY not in (state.last_error or "")
    assert "a rule broke" in (state.last_error or "")
