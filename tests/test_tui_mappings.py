"""Mappings screen: editor with live validation and preview, issue choice, and saving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, TextArea

from jira_console.store import StoreError
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.mappings import MappingsScreen
from tests.fakes import screen_text, scroll_to_the_end, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine

WAIT = MappingsScreen.VALIDATE_DELAY + 0.1


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="mappings")


def preview(app: JiraConsoleApp) -> dict[str, tuple[str, ...]]:
    table = app.screen.query_one("#preview", DataTable)
    return {
        str(table.get_cell_at(Coordinate(r, 0))): tuple(
            str(table.get_cell_at(Coordinate(r, c))) for c in range(1, 5)
        )
        for r in range(table.row_count)
    }


def edit(app: JiraConsoleApp, old: str, new: str) -> None:
    """Replace the first ``old`` in the editor with ``new`` as an edit (as typing would), not a reload."""
    editor = app.screen.query_one(TextArea)
    editor.focus()
    before = editor.text[: editor.text.index(old)]
    line, column = before.count("\n"), len(before.rsplit("\n", 1)[-1])
    editor.replace(new, (line, column), (line, column + len(old)))


def validation(app: JiraConsoleApp) -> str:
    return str(app.screen.query_one("#validation").render())


async def test_first_mapping_opens_with_a_preview() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        screen = app.screen
        assert isinstance(screen, MappingsScreen)
        assert 'jira_field = "customfield_10016"' in screen.query_one(TextArea).text
        rows = preview(app)
        assert len(rows) == 12
        assert rows["OPS-1"] == ("1.5", "1.5", "1.5", "ok")
        error = "mapping 'story-points', step steps[0] to_float: 'lots' is not a number (value: 'lots')"
        assert rows["OPS-9"][3] == error[: len(rows["OPS-9"][3]) - 1] + "…"  # cut to its share at 80
        assert "valid · 12 issues previewed · 1 with errors" in validation(app)
        assert f"OPS-9: {error}" in validation(app)  # and in full under the editor


async def test_editing_the_definition_changes_the_preview() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        edit(app, "factor = 1.0", "factor = 4.0")
        await settle(pilot, pause=WAIT)
        rows = preview(app)
        assert rows["OPS-1"][:3] == ("1.5", "6.0", "1.5")
        assert rows["OPS-6"][3].startswith("24.0 is above the")  # 6.0 * 4 fails the validation rule
        app.screen.query_one("#preview", DataTable).move_cursor(row=5)  # OPS-6
        await settle(pilot)
        assert "OPS-6: 24.0 is above the maximum 20" in validation(app)
        assert "story-points · modified ·" in validation(app)


async def test_invalid_definition_is_reported_and_cannot_be_saved() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        edit(
            app, 'internal_field = "story_points"', 'internal_field = "story_points"\ndirection = "sideways"'
        )
        await settle(pilot, pause=WAIT)
        assert validation(app).startswith("story-points · modified · invalid: ")
        assert "'story-points': direction: Input should be 'pull', 'push' or 'both'" in validation(app)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert engine.list_mappings()[0].version == 1


async def test_issue_keys_choose_the_preview_rows() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        app.screen.query_one("#issues").focus()
        await pilot.press(*"OPS-2, OPS-7")
        await settle(pilot, pause=WAIT)
        rows = preview(app)
        assert set(rows) == {"OPS-2", "OPS-7"}
        assert rows["OPS-7"][3] == "a value is required"


async def edit_and_save(pilot: Any, app: JiraConsoleApp) -> None:
    """Change the opened mapping's factor, as typing would, and press Ctrl+S."""
    await settle(pilot, pause=WAIT)
    edit(app, "factor = 1.0", "factor = 2.0")
    await settle(pilot, pause=WAIT)
    await pilot.press("ctrl+s")


async def test_save_stores_a_new_version() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_save(pilot, app)
        await settle(pilot)
        saved = engine.list_mappings()[0]
        assert saved.version == 2 and saved.definition["steps"][1] == {"op": "scale", "factor": 2.0}
        assert saved.updated_by == "console"
        assert "story-points v2" in screen_text(app)
        assert "story-points · saved ·" in validation(app)


async def test_choosing_another_mapping_opens_it() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        app.screen.query_one("#mapping-list").focus()
        await pilot.press("down", "enter")
        await settle(pilot, pause=WAIT)
        assert 'name = "summary"' in app.screen.query_one(TextArea).text
        assert preview(app)["OPS-3"][:3] == ('"Issue 3"', '"Issue 3"', '"Issue 3"')


async def test_with_no_mappings_the_editor_offers_a_working_example() -> None:
    engine = FakeEngine()
    engine._mappings.clear()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, pause=WAIT)
        assert 'name = "summary_upper"' in app.screen.query_one(TextArea).text
        assert "valid · " in validation(app)  # as it stands it validates and previews
        assert preview(app), "the example is previewed on the first issues"


async def test_ctrl_n_starts_a_new_mapping_saved_beside_the_others() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, pause=WAIT)
        before = [(m.name, m.version) for m in engine.list_mappings()]
        await pilot.press("ctrl+n")
        await settle(pilot, pause=WAIT)
        assert app.screen.query_one(TextArea).has_focus
        edit(app, '"summary_upper"', '"shouted"')
        await settle(pilot, pause=WAIT)
        await pilot.press("ctrl+s")
        await settle(pilot)
        after = [(m.name, m.version) for m in engine.list_mappings()]
        assert after == [*before, ("shouted", 1)]  # a new mapping; the one open before is untouched


@pytest.mark.parametrize(
    ("step", "again", "then"),
    [("ctrl+n", "Ctrl+N again", 'name = "summary_upper"'), ("enter", "choosing again", 'name = "summary"')],
    ids=["new", "choose"],
)
async def test_unsaved_edits_are_kept_until_the_step_that_replaces_them_comes_twice(
    step: str, again: str, then: str
) -> None:
    from textual.widgets import OptionList

    app = make_app(FakeEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, pause=WAIT)
        edit(app, "factor = 1.0", "factor = 5.0")
        await settle(pilot, pause=WAIT)
        if step == "enter":  # choosing the other mapping in the list
            options = app.screen.query_one("#mapping-list", OptionList)
            options.focus()
            options.highlighted = 1
        await pilot.press(step)
        await settle(pilot, pause=WAIT)
        editor = app.screen.query_one(TextArea)
        assert "factor = 5.0" in editor.text  # kept, and the operator told how to keep or drop them
        assert any(f"Ctrl+S saves them, {again} drops them" in n.message for n in app._notifications)
        await pilot.press(step)
        await settle(pilot, pause=WAIT)
        assert "factor = 5.0" not in editor.text and then in editor.text


class RefusingEngine(FakeEngine):
    async def save_mapping(self, definition: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)
        raise StoreError("the database is unreachable; the mapping was not saved")


async def test_a_save_the_engine_refuses_is_said_and_the_edit_stays_unsaved() -> None:
    engine = RefusingEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await edit_and_save(pilot, app)
        expected = "Saving the mapping failed: the database is unreachable; the mapping was not saved"
        assert await wait_for(pilot, lambda: any(n.message == expected for n in app._notifications))
        await settle(pilot)
        assert engine.list_mappings()[0].version == 1
        assert validation(app).startswith("story-points · modified · ")
        assert "factor = 2.0" in app.screen.query_one(TextArea).text  # nothing typed is lost


async def test_issue_keys_not_found_are_named_as_plain_text() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        app.screen.query_one("#issues").focus()
        await pilot.press(*"ENG-999, OPS-1, [red]zz")
        await settle(pilot, pause=WAIT)
        assert set(preview(app)) == {"OPS-1"}
        said = validation(app)
        assert "valid · 1 issue previewed · 0 with errors" in said  # one issue, not "1 issues"
        assert "not found: ENG-999, [red]zz" in said


async def test_an_invalid_definition_is_shown_whole_however_long() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        edit(app, '{ op = "to_float" }', '{ op = "no_such_step" }')
        await settle(pilot, pause=WAIT)
        said = validation(app)
        assert "invalid: " in said and "no_such_step" in said
        scroll_to_the_end(app.screen.query_one("#validation"))
        await settle(pilot)
        last_words = said.split()[-1]
        assert last_words in screen_text(app)  # the end of the message can be brought on screen


async def test_home_and_end_move_the_preview_highlight() -> None:
    app = make_app(FakeEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, pause=WAIT)
        table = app.screen.query_one("#preview", DataTable)
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 > 0
        await pilot.press("home")
        assert table.cursor_row == 0
