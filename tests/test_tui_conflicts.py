"""Conflicts screen: the queue, side-by-side values, every resolution, filters and lazy loading."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
from textual.widgets import Button

from jira_console.facade import EngineState
from jira_console.store.converters import ConflictRecord
from jira_console.sync.conflicts import ResolutionError
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.conflicts import ConflictsScreen
from jira_console.tui.screens.edit_value import EditValueScreen
from jira_console.tui.screens.resolve_all import ResolveAllScreen
from jira_console.tui.widgets.lazy_table import LazyTable
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="conflicts")


def conflict(engine: FakeEngine, conflict_id: int) -> ConflictRecord:
    record = engine.get_conflict(conflict_id)
    assert record is not None
    return record


async def test_queue_and_side_by_side_values() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        assert screen.query_one(LazyTable).row_count == 40
        assert "showing 40 of 40 open" in screen_text(app)
        await pilot.press("down")  # conflict 2: status, strings on every side
        await settle(pilot)
        assert screen.selected().id == 2
        values = {
            side: str(screen.query_one(f"#{side}-value").render()) for side in ("base", "local", "jira")
        }
        assert values == {"base": '"To Do"', "local": '"To Do-local"', "jira": '"To Do-jira"'}


async def test_take_jira_then_take_local() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)
        first = conflict(engine, 1)
        assert (first.status, first.resolution, first.resolved_value) == ("resolved", "jira", {"value": 3})
        screen = app.screen
        assert screen.query_one(LazyTable).row_count == 39
        assert screen.selected().id == 2  # the cursor stays in place, on the next conflict
        await pilot.press("l")
        await settle(pilot)
        second = conflict(engine, 2)
        assert (second.status, second.resolution, second.resolved_value) == (
            "resolved",
            "local",
            "To Do-local",
        )
        assert "showing 38 of 38 open" in screen_text(app)


async def test_edit_value_takes_json_when_it_parses() -> None:
    # A mapped field (kept as JSON) takes any JSON value; a core field only what its column holds.
    engine = FakeEngine(conflicts=0)
    engine.add_conflict(connection="cloud", issue_key="OPS-1", field="team", base=None, local="fe", jira="be")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, EditValueScreen)
        modal.query_one("#value").value = ""
        await pilot.press(*'{"points": ')
        await settle(pilot)
        # Not JSON (yet): it would be saved as the text typed, and the line under the field says so.
        assert str(modal.query_one("#reading").render()) == 'saves "{\\"points\\": " as text'
        await pilot.press(*"5}")
        await settle(pilot)
        assert str(modal.query_one("#reading").render()) == 'saves {"points": 5} as JSON'
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        record = conflict(engine, 1)
        assert (record.status, record.resolution, record.resolved_value) == (
            "resolved",
            "value",
            {"points": 5},
        )


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_edit_value_takes_words_as_text(size: tuple[int, int]) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("down", "e")  # conflict 2: a status, "To Do-local" locally
        await settle(pilot)
        modal = app.screen
        assert modal.query_one("#value").value == "To Do-local"  # a text value starts without quotes
        modal.query_one("#value").value = ""
        await pilot.press(*"Merged wording", "enter")
        await settle(pilot)
        record = conflict(engine, 2)
        assert (record.resolution, record.resolved_value) == ("value", "Merged wording")


async def test_edit_value_cancel_leaves_the_conflict_open() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        assert conflict(engine, 1).status == "open"


async def test_filters_narrow_the_queue_and_resolve_all_takes_only_matches() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", "tab", *"summary", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.query_one(LazyTable).row_count == 8
        assert {c.field for c in screen.records.values()} == {"summary"}
        assert "filter: field~summary" in screen_text(app)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ResolveAllScreen)
        assert "Resolve 8 open conflicts?" in screen_text(app)
        await pilot.press("j")
        await settle(pilot)
        assert engine.count_conflicts(field="summary") == 0
        assert engine.count_conflicts() == 32
        summary = engine.list_conflicts(status=None, field="summary", limit=1000)
        assert len(summary) == 8 and {c.resolution for c in summary} == {"jira"}
        assert screen.query_one(LazyTable).row_count == 0
        assert any("Resolved 8 conflicts" in n.message for n in app._notifications)


async def test_resolve_all_cancel_changes_nothing() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        await pilot.press("enter")  # focus starts on Cancel
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        assert engine.count_conflicts() == 40


async def test_key_filter_is_typed_live() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#f-key").focus()
        await pilot.press(*"dc-")
        await settle(pilot, pause=ConflictsScreen.FILTER_DELAY + 0.1)
        assert {c.connection for c in app.screen.records.values()} == {"dc"}
        assert app.screen.total == 13


async def test_large_queue_loads_a_page_at_a_time() -> None:
    engine = FakeEngine(conflicts=1200)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        assert table.row_count == ConflictsScreen.PAGE
        assert "showing 500 of 1,200 open" in screen_text(app)
        await pilot.press("ctrl+end")
        assert await wait_for(pilot, lambda: table.row_count == 1000)
        await settle(pilot)
        await pilot.press("ctrl+end")
        assert await wait_for(pilot, lambda: table.row_count == 1200)
        await settle(pilot)
        assert table.exhausted
        ids = list(app.screen.records)
        assert ids == sorted(set(ids)) and len(ids) == 1200


async def test_rows_are_laid_out_with_one_width_reading_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """value_width goes over every loaded row: read again for each row made, laying out the queue (on
    opening, on a resize) and appending each page were quadratic, seconds a page with thousands loaded."""
    reads: list[int] = []
    width_of = ConflictsScreen.value_width

    def counted(screen: ConflictsScreen) -> int:
        reads.append(width_of(screen))
        return reads[-1]

    monkeypatch.setattr(ConflictsScreen, "value_width", counted)
    app = make_app(FakeEngine(conflicts=1200))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        assert table.row_count == ConflictsScreen.PAGE
        assert 1 <= len(reads) <= 3  # a reading per lay-out (before the rows came, with them), not per row
        opened = len(reads)
        await pilot.press("ctrl+end")
        assert await wait_for(pilot, lambda: table.row_count == 1000)
        await settle(pilot)
        assert len(reads) == opened + 1


async def test_resolutions_elsewhere_and_new_conflicts_update_the_queue() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        engine.resolve_elsewhere(5, "local")
        assert await wait_for(pilot, lambda: 5 not in app.screen.records)
        engine.add_conflict(
            connection="cloud", issue_key="OPS-99", field="summary", base="a", local="b", jira="c"
        )
        assert await wait_for(pilot, lambda: "of 40 open" in screen_text(app))
        assert "showing 40 of 40" in screen_text(app) and 41 in app.screen.records  # it is listed too


async def test_scrolling_without_the_cursor_also_loads_more() -> None:
    app = make_app(FakeEngine(conflicts=1200))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(LazyTable)
        table.scroll_to(y=table.max_scroll_y, animate=False)
        assert await wait_for(pilot, lambda: table.row_count == 1000)
        assert table.cursor_row == 0


class RefusingEngine(FakeEngine):
    """Settles nothing: every resolution is refused, as the engine refuses a value Jira never takes."""

    async def resolve_conflict(self, conflict_id: int, take: Any, value: Any = None, **_kw: Any) -> Any:
        await asyncio.sleep(0)
        raise ResolutionError(f"cannot resolve conflict {conflict_id} with that value: summary is empty")


async def test_a_refused_resolution_is_said_and_the_conflict_stays_in_the_queue() -> None:
    engine = RefusingEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#value").value = "5"  # a value the field takes: the dialog closes
        await pilot.press("enter")
        why = "cannot resolve conflict 1 with that value: summary is empty"
        expected = f"Resolving the conflict failed: {why}"
        # A screen's worker reports to the screen alone: this pressed Enter and saw nothing happen.
        assert await wait_for(pilot, lambda: any(n.message == expected for n in app._notifications))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        assert screen.query_one(LazyTable).row_count == 40 and screen.pending == set()
        assert conflict(engine, 1).status == "open"


async def open_edit_on(pilot, app: JiraConsoleApp, conflict_id: int) -> EditValueScreen:
    """The Edit dialog over conflict ``conflict_id`` (the queue is in id order), its field emptied."""
    await settle(pilot)
    app.screen.query_one(LazyTable).move_cursor(row=conflict_id - 1)
    await settle(pilot)
    assert app.screen.selected().id == conflict_id
    await pilot.press("e")
    await settle(pilot)
    modal = app.screen
    assert isinstance(modal, EditValueScreen)
    modal.query_one("#value").value = ""
    return modal


async def test_edit_value_reads_a_text_field_as_the_text_typed() -> None:
    # 42 for a summary was saved as the number 42, refused once the dialog had closed.
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_edit_on(pilot, app, 5)  # conflict 5: a summary
        await pilot.press("4", "2")
        await settle(pilot)
        assert str(modal.query_one("#reading").render()) == 'saves "42" as text'
        assert not modal.query_one("#problem").display
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        record = conflict(engine, 5)
        assert (record.status, record.resolution, record.resolved_value) == ("resolved", "value", "42")
        assert not any("failed" in n.message for n in app._notifications)


@pytest.mark.parametrize(
    ("conflict_id", "typed", "says", "fixed", "saved"),
    [
        (5, "", "summary cannot be empty: Jira requires one", "Agreed title", "Agreed title"),
        (5, "null", "summary cannot be empty: Jira requires one", "null!", "null!"),
        (1, "abc", 'story_points takes a finite number, not "abc"', "8", 8),
        (1, "[1]", "story_points takes a finite number, not [1]", "2.5", 2.5),
    ],
)
async def test_edit_value_a_value_the_field_cannot_take_keeps_the_dialog_open(
    conflict_id: int, typed: str, says: str, fixed: str, saved: object
) -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = await open_edit_on(pilot, app, conflict_id)
        await pilot.press(*typed)
        await settle(pilot)
        problem = modal.query_one("#problem")
        assert problem.display and str(problem.render()) == says
        if typed == "null":  # a text field's null is no value at all, and said so
            assert str(modal.query_one("#reading").render()) == "saves no value (null)"
        assert modal.query_one("#ok").disabled
        await pilot.press("enter")
        await settle(pilot)
        # Still open, with what was typed: the operator corrects it, nothing is retyped.
        assert app.screen is modal and modal.query_one("#value").value == typed
        assert conflict(engine, conflict_id).status == "open"
        assert not app._notifications  # no "failed" toast: nothing was sent to the engine
        words = set(str(problem.render()).replace(",", " ").split())
        assert not words & {"str", "int", "float", "string", "got"}, words
        modal.query_one("#value").value = fixed
        await settle(pilot)
        assert not problem.display and not modal.query_one("#ok").disabled
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        assert conflict(engine, conflict_id).resolved_value == saved


def told(app: JiraConsoleApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_resolving_one_conflict_says_which_and_that_it_is_sent_while_the_push_waits() -> None:
    engine = FakeEngine()
    engine.push_gate = asyncio.Event()  # the push waits (a breaker open, a slow Jira)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "l")  # conflict 2: a status, cloud's OPS-2
        said = "Resolved #2 OPS-2 status with the local value; sending it to Jira now"
        assert await wait_for(pilot, lambda: said in told(app))
        assert await wait_for(pilot, lambda: "sending 1 to Jira…" in screen_text(app))
        assert app.screen.query_one(LazyTable).row_count == 39 and engine.pushes == []
        engine.push_gate.set()
        assert await wait_for(pilot, lambda: engine.pushes == ["cloud"])
        await settle(pilot)
        assert "sending" not in screen_text(app)
        # Jira's value: nothing differs from Jira, so nothing is sent (and nothing said to be).
        await pilot.press("up", "j")  # conflict 1: story points
        await settle(pilot)
        said = "Resolved #1 OPS-1 story_points with Jira's value: the local copy now matches Jira"
        assert f"{said}, nothing to send" in told(app)


async def test_a_typed_value_is_named_in_what_is_said() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_edit_on(pilot, app, 5)
        await pilot.press(*"Agreed", "enter")
        await settle(pilot)
        assert 'Resolved #5 OPS-5 summary with "Agreed"; sending it to Jira now' in told(app)


async def test_attached_the_push_is_said_to_be_queued_for_the_daemon() -> None:
    engine = FakeEngine(mode="attached")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("down", "l")
        await settle(pilot)
        assert "Resolved #2 OPS-2 status with the local value; the push is queued for daemon syncd" in told(
            app
        )
        await pilot.press("A", "l")
        await settle(pilot)
        assert "Resolved 39 conflicts with the local value; the push is queued for daemon syncd" in told(app)


async def test_attached_to_a_daemon_that_is_gone_the_push_is_said_to_wait() -> None:
    engine = FakeEngine(mode="attached")
    engine.state = EngineState("attached", "syncd", FIXED_NOW - timedelta(minutes=5), alive=False)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape")  # keep waiting (the console offers to run the engine here)
        await settle(pilot)
        await pilot.press("down", "l")
        await settle(pilot)
        [said] = [m for m in told(app) if m.startswith("Resolved #2")]
        assert said.startswith(
            "Resolved #2 OPS-2 status with the local value; the push is queued, but daemon"
        )
        assert said.endswith("it waits for a daemon (press i to run the engine here)")
        assert engine.pushes == ["cloud"]  # queued all the same: a daemon that comes back sends it


async def test_every_dialog_puts_the_way_out_first_and_the_action_last() -> None:
    # The Edit dialog had Resolve before Cancel, the Undo one Cancel before Undo.
    from jira_console.facade.undo import UndoResult, UndoStep
    from jira_console.tui.screens.people import PeopleScreen
    from jira_console.tui.screens.undo_confirm import UndoConfirmScreen

    engine = FakeEngine()
    step = UndoStep("cloud", "OPS-1", "summary", "jira", (1,), "b", "a", "b", "write", "")
    dialogs = [
        (EditValueScreen(conflict(engine, 1), engine), ["cancel", "ok"]),
        (ResolveAllScreen(3, "everything open"), ["cancel", "jira", "local"]),
        (UndoConfirmScreen("audit #1", UndoResult("audit #1", (step,), applied=False)), ["cancel", "apply"]),
        (PeopleScreen(engine), ["close", "map"]),
    ]
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for dialog, order in dialogs:
            await app.push_screen(dialog)
            await settle(pilot)
            assert [b.id for b in dialog.query(Button)] == order, type(dialog).__name__
            app.pop_screen()
            await settle(pilot)


def jira_value(app: JiraConsoleApp) -> str:
    return str(app.screen.query_one("#jira-value").render())


async def test_the_refresh_follows_the_queue_and_keeps_the_highlight_on_its_conflict() -> None:
    """Attached to a daemon no event arrives: a new conflict stayed out of the list (`showing 0 of 1
    open`), and a Jira value edited again still showed the old one a minute later, the one `j` no
    longer takes."""
    engine = FakeEngine()
    engine.emit = lambda event: None  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(LazyTable)
        await pilot.press("down", "down")
        await settle(pilot)
        assert screen.selected().id == 3
        engine.add_conflict(connection="cloud", issue_key="OPS-99", field="summary", base="a", local="b",
                            jira="c", detected_at=FIXED_NOW - timedelta(days=30))  # fmt: skip
        engine.update_conflict(3, jira="edited in Jira again")
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: 41 in screen.records)
        await settle(pilot)
        assert "showing 41 of 41 open" in screen_text(app) and table.row_count == 41
        assert screen.selected().id == 3 and table.cursor_row == 3  # the new one is above it
        assert "edited in Jira again" in jira_value(app)
        assert "edited in Jira again" in table.get_row("3")[5].plain
        engine.resolve_elsewhere(2)
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: 2 not in screen.records)
        await settle(pilot)
        assert screen.selected().id == 3 and "showing 40 of 40 open" in screen_text(app)
        await pilot.press("j")
        await settle(pilot)
        assert conflict(engine, 3).resolved_value == "edited in Jira again"


async def test_a_conflict_arriving_in_an_empty_queue_is_listed() -> None:
    engine = FakeEngine(conflicts=0)
    engine.emit = lambda event: None  # type: ignore[method-assign]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "no open conflicts" in screen_text(app)
        engine.add_conflict(connection="cloud", issue_key="ENG-5", field="summary", base="a", local="b",
                            jira="c")  # fmt: skip
        app.action_refresh_now()
        engine.add_conflict(connection="cloud", issue_key="ENG-6", field="summary", base="a", local="b",
                            jira="c", detected_at=FIXED_NOW + timedelta(seconds=1))  # fmt: skip
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: "showing 2 of 2 open" in screen_text(app))
        await settle(pilot)
        assert app.screen.selected().issue_key == "ENG-5"
        await pilot.press("down", "j")  # the table has the keys again
        await settle(pilot)
        assert [c.issue_key for c in engine.list_conflicts()] == ["ENG-5"]


class HeldReadEngine(FakeEngine):
    """Holds a read of the queue after reading it, until ``release`` is set (when ``hold`` is on)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.holding = threading.Event()
        self.release = threading.Event()

    def list_conflicts(self, *args: Any, **kwargs: Any) -> list[ConflictRecord]:
        rows = super().list_conflicts(*args, **kwargs)
        if self.hold:
            self.holding.set()
            self.release.wait(timeout=30)
        return rows


async def test_a_refresh_read_before_a_resolution_does_not_bring_the_conflict_back() -> None:
    engine = HeldReadEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        engine.hold = True
        engine.update_conflict(7, jira="edited in Jira again")  # the refresh reads the rows again
        app.action_refresh_now()  # reads conflict 1 still open, and is held there
        assert await wait_for(pilot, engine.holding.is_set)
        await pilot.press("j")
        assert await wait_for(pilot, lambda: conflict(engine, 1).status == "resolved")
        assert await wait_for(pilot, lambda: 1 not in screen.records)
        engine.hold = False
        engine.release.set()
        await settle(pilot)
        assert 1 not in screen.records and screen.query_one(LazyTable).row_count == 39
        assert "showing 39 of 39 open" in screen_text(app) and screen.selected().id == 2


async def test_an_idle_refresh_reads_the_marker_and_not_the_rows_it_has() -> None:
    """Every refresh read the whole loaded part of the queue again: 10,000 rows every 2 s once the operator
    had scrolled through them. Now a refresh reads the change marker and the rows only when it moved."""
    engine = FakeEngine(conflicts=1200)
    engine.emit = lambda event: None  # type: ignore[method-assign]  # attached: no event says what changed
    app = make_app(engine)

    async def refreshed(rows_read: bool) -> None:
        markers, rows = engine.reads["conflict_marker"], engine.reads["list_conflicts"]
        app.action_refresh_now()
        assert await wait_for(pilot, lambda: engine.reads["conflict_marker"] == markers + 1)
        await settle(pilot)
        assert engine.reads["list_conflicts"] == rows + rows_read

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one(LazyTable)
        for loaded in (1000, 1200):
            await pilot.press("ctrl+end")
            assert await wait_for(pilot, lambda n=loaded: table.row_count == n)  # type: ignore[misc]
            await settle(pilot)
        await refreshed(rows_read=False)
        taken = screen.selected().id
        await pilot.press("j")  # resolved here: the screen knows the marker moved by that conflict
        assert await wait_for(pilot, lambda: taken not in screen.records)
        await refreshed(rows_read=False)
        selected = screen.selected().id
        engine.update_conflict(selected, jira="edited in Jira again")  # in place: same id, same count
        await refreshed(rows_read=True)
        assert screen.selected().id == selected and "edited in Jira again" in jira_value(app)
        engine.resolve_elsewhere(7)
        await refreshed(rows_read=True)
        assert 7 not in screen.records and "showing 1,198 of 1,198 open" in screen_text(app)
        await refreshed(rows_read=False)
        await pilot.press("j")
        await settle(pilot)
        assert conflict(engine, selected).resolved_value == "edited in Jira again"
