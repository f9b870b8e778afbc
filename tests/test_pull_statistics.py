"""A first import refreshes PostgreSQL's planner statistics as the issues table grows (see
:func:`jira_console.store.issues.refresh_statistics`); SQLite needs none."""

from __future__ import annotations

from typing import Any

import pytest

from jira_console.store import issues as si
from jira_console.sync import pull


async def test_a_first_import_refreshes_the_statistics_as_the_table_grows(
    rig_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull, "ANALYZE_FIRST", 10)
    refreshed: list[tuple[int, bool]] = []
    real = si.refresh_statistics
    rig = await rig_factory("server", issues=60, max_page_size=5, tie_fraction=0.0)

    def counting(db: Any) -> bool:
        ran = real(db)
        refreshed.append((stored(), ran))
        return ran

    def stored() -> int:
        return int(rig.sql("SELECT count(*) FROM issues").scalar_one())

    monkeypatch.setattr(si, "refresh_statistics", counting)
    await rig.engine.run(full=True)
    assert stored() == 60
    # once 10 are created, then once five times as many are: twice in 60 (pages of 5, some re-read)
    sizes = [n for n, _ran in refreshed]
    assert len(sizes) == 2 and 10 <= sizes[0] < 20 and sizes[1] >= 5 * sizes[0], sizes
    postgresql = rig.db.dialect == "postgresql"
    assert all(ran == postgresql for _n, ran in refreshed)
    if postgresql:
        # what the planner now believes: the rows the last ANALYZE saw (never analyzed: -1)
        believed = rig.sql("SELECT reltuples FROM pg_class WHERE oid = 'issues'::regclass").scalar_one()
        assert believed == sizes[1]

    refreshed.clear()
    await rig.engine.run()  # an incremental run that creates nothing refreshes nothing
    assert refreshed == []


def test_statistics_that_cannot_be_refreshed_do_not_stop_the_sync() -> None:
    """ANALYZE refused (e.g. a role that does not own the table under a stricter server) costs only the
    planner's figures: a warning, never a failed sync."""
    from sqlalchemy.exc import OperationalError

    class Refusing:
        dialect = "postgresql"

        def session(self, **_kw: Any) -> Any:
            raise OperationalError("ANALYZE issues", {}, Exception("permission denied"))

    assert si.refresh_statistics(Refusing()) is False  # type: ignore[arg-type]
