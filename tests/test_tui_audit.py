"""Audit log screen (Pilot, over the fake engine): newest first, filters by issue, run, side and field,
the selected change in full, and undo of a line or a whole run after a confirmation that says what is
written where (cancel writes nothing). The engine side of undo is tested in tests/test_undo.py."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.audit import AuditFilter, AuditScreen, parse_filter
from jira_console.tui.screens.undo_confirm import UndoConfirmScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, INJECTION, FakeEngine


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="sync")


async def open_audit(pilot, app: JiraConsoleApp) -> AuditScreen:
    await settle(pilot)
    await pilot.press("l")
    await settle(pilot)
    assert isinstance(app.screen, AuditScreen)
    return app.screen


def ids(screen: AuditScreen) -> list[int]:
    return [e.id for e in screen.entries]


def detail(app: JiraConsoleApp) -> str:
    return str(app.screen.query_one("#audit-detail").render())


def test_filters_read_keys_runs_sides_and_fields() -> None:
    assert parse_filter("OPS-3 run:41 side:jira field:summary") == AuditFilter("OPS-3", 41, "jira", "summary")
    assert parse_filter("issue:DC-7") == AuditFilter(issue_key="DC-7")
    assert parse_filter("") == AuditFilter()
    for wrong in ("run:x", "side:both", "colour:red", "field:"):
        with pytest.raises(ValueError, match="cannot read"):
            parse_filter(wrong)


async def test_newest_first_with_the_change_in_full_and_markup_kept_literal() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot, app)
        assert ids(screen) == [9, 8, 7, 6, 5, 4, 3, 2, 1]
        assert screen.query_one(DataTable).row_count == 9
        text = screen_text(app)
        assert "audit log: everything" in text and "9 line(s), newest first" in text
        assert "operator" in detail(app) and "conflict 3 resolved" in detail(app)
        await pilot.press("down")
        await settle(pilot)
        assert '"In Progress"' in detail(app) and "webhook #8" in detail(app)
        # The summary with markup in it: shown as typed, and the app is still running.
        screen.query_one(DataTable).move_cursor(row=ids(screen).index(4))
        await settle(pilot)
        assert INJECTION in detail(app) and app.is_running
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, AuditScreen)


async def test_filter_by_typing_by_side_and_by_the_highlighted_run() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot, app)
        await pilot.press("slash")
        await pilot.press(*"OPS-2")
        await pilot.press("enter")
        await settle(pilot)
        assert ids(screen) == [9, 3] and "audit log: issue OPS-2" in screen_text(app)
        await pilot.press("s")
        await settle(pilot)
        assert ids(screen) == [3] and screen.filter.side == "jira"
        await pilot.press("n")  # the highlighted line's run
        await settle(pilot)
        assert screen.filter == AuditFilter(run_id=41) and ids(screen) == [7, 6, 5, 4, 3, 2]
        await pilot.press("slash")
        await pilot.press(*"field:story_points")
        await pilot.press("enter")
        await settle(pilot)
        assert ids(screen) == [7, 6]
        await pilot.press("slash", *"run:zz", "enter")
        await settle(pilot)
        assert any("cannot read 'run:zz'" in n.message for n in app._notifications)
        assert ids(screen) == [7, 6]  # the bad filter changed nothing
        await pilot.press("escape", "c")
        await settle(pilot)
        assert len(ids(screen)) == 9


async def test_undo_this_shows_what_is_written_where_and_cancel_writes_nothing() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_audit(pilot, app)
        screen.query_one(DataTable).move_cursor(row=ids(screen).index(2))
        await settle(pilot)
        await pilot.press("u")
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        text = screen_text(app)
        assert "Undo audit #2?" in text and "1 change(s): 1 write" in text
        assert "OPS-1 summary → Jira: Bulk rename 1 ⇒ Original title 1  [write]" in text
        await pilot.press("enter")  # Cancel has the focus
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen) and engine.undos == []
        assert ids(screen)[0] == 9

        await pilot.press("u")
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await pilot.press("y")
        await settle(pilot)
        assert [s.entry_ids for s, _ in engine.undos] == [(2,)] and engine.undos[0][1] == "console"
        assert await wait_for(pilot, lambda: ids(screen)[0] == 10)
        assert any("Undo of audit #2 (run 42): 1 undone" in n.message for n in app._notifications)
        assert "Original ti" in screen_text(app) and "undo 42 of #2" in screen_text(app)
        top = screen.entries[0]
        assert (top.cause, top.run_id, top.undo_of, top.new) == ("undo", 42, 2, "Original title 1")


async def test_undo_this_run_confirms_every_line_of_the_run() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_audit(pilot, app)
        screen.query_one(DataTable).move_cursor(row=ids(screen).index(5))
        await settle(pilot)
        await pilot.press("U")
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        text = screen_text(app)
        assert "Undo run 41?" in text and "6 change(s): 6 write" in text
        assert "OPS-5 story_points → local database: 8 ⇒ 5" in text
        assert INJECTION in text  # a value with markup is listed as it is
        await pilot.click("#apply")
        await settle(pilot)
        assert [s.run_id for s, _ in engine.undos] == [41]
        assert await wait_for(pilot, lambda: len(screen.entries) == 15)
        # The undo's own run is one more run: "undo this run" on its line undoes the undo.
        assert {e.run_id for e in screen.entries[:6]} == {42}


async def test_undo_refusals_are_said() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot, app)
        await pilot.press("U")  # the newest line is an operator's: it names no run
        await settle(pilot)
        assert any("names no run" in n.message for n in app._notifications)
        screen.query_one(DataTable).move_cursor(row=ids(screen).index(1))
        await settle(pilot)
        await pilot.press("u")  # the import wrote no field: nothing to write, only Close
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        assert "[refused]" in screen_text(app) and not app.screen.query("#apply")
        await pilot.press("y")
        await settle(pilot)
        assert engine.undos == [] and isinstance(app.screen, AuditScreen)


def add_lines(engine: FakeEngine, count: int) -> None:
    for n in range(count):
        engine.add_audit(connection="cloud", issue_key=f"OPS-{n % 9 + 1}", side="local", field="summary",
                         old=f"old {n}", new=f"new {n}", reason="Jira", cause="sync", run_id=50)  # fmt: skip


async def test_the_highlight_stays_on_its_line_as_new_lines_arrive_and_u_undoes_that_line() -> None:
    """Reading #643 while the log grew, `u` offered "Undo audit #645?": the highlight kept a row number."""
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_audit(pilot, app)
        table = screen.query_one(DataTable)
        table.move_cursor(row=ids(screen).index(5))
        await settle(pilot)
        assert detail(app).startswith("#5 ")
        add_lines(engine, 2)
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: ids(screen)[:2] == [11, 10])
        await settle(pilot)
        assert screen.selected().id == 5 and detail(app).startswith("#5 ")
        assert table.cursor_row == ids(screen).index(5)
        await pilot.press("u")
        assert await wait_for(pilot, lambda: isinstance(app.screen, UndoConfirmScreen))
        await settle(pilot)
        assert "Undo audit #5?" in screen_text(app)


async def test_the_log_pages_past_300_lines_as_the_operator_scrolls() -> None:
    """The log stopped at 300 lines and said `300 line(s)` while ids went on into the thousands."""
    engine = FakeEngine()
    add_lines(engine, 700)  # 709 in all
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot, app)
        table = screen.query_one(DataTable)
        assert len(ids(screen)) == 300 and table.row_count == 300
        assert "the newest 300 line(s); older ones load as you scroll" in screen_text(app)
        await pilot.press("ctrl+end")
        assert await wait_for(pilot, lambda: table.row_count == 600)
        await settle(pilot)
        chosen = screen.selected().id
        add_lines(engine, 3)  # the refresh puts new lines on top and keeps the pages read
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: ids(screen)[0] == 712)
        await settle(pilot)
        assert table.row_count == 603 and screen.selected().id == chosen
        await pilot.press("ctrl+end")
        assert await wait_for(pilot, lambda: table.row_count == 712)
        await settle(pilot)
        assert ids(screen) == list(range(712, 0, -1))
        assert "712 line(s), newest first" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_an_issue_jira_no_longer_returns_is_not_cut_to_deleted_in_jira(size: tuple[int, int]) -> None:
    """At 80 columns the change column cut the reason to "deleted in Jira, o…": the one reading the engine
    stopped giving (Jira answers a deleted issue and one the account may no longer see alike)."""
    from jira_console.store.issues import GONE

    engine = FakeEngine()
    reason = f"{GONE} (reconciliation)"
    engine.add_audit(connection="cloud", issue_key="OPS-1234", side="local", field=None, old=None, new=None,
                     reason=reason, actor="sync")  # fmt: skip
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await open_audit(pilot, app)
        row = next(line for line in screen_text(app).splitlines() if "OPS-1234" in line and "09:30" in line)
        assert "deleted in Jira, o…" not in row
        assert (reason if size[0] > 100 else "deleted/not visible") in row
        detail = " ".join(str(app.screen.query_one("#audit-detail").render()).split())
        assert reason in detail  # in full below the table
