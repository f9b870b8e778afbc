"""Issue 13: the console's view of the people nobody mapped yet (F4 on the Mappings screen) and mapping one:
Jira's names as plain text, the e-mail Jira shows prefilled but stored only when the operator maps."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Button, DataTable, Input

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.people import PeopleScreen
from tests.fakes import screen_text, settle, wait_for
from tests.fakes.engine import FIXED_NOW, FakeEngine
from tests.fakes.seed import INJECTION


def make_app(engine: FakeEngine) -> JiraConsoleApp:
    return JiraConsoleApp(engine, now=lambda: FIXED_NOW, refresh_interval=None, start_mode="mappings")


async def open_people(pilot: Any, app: JiraConsoleApp) -> DataTable[Any]:
    """F4 from the Mappings screen, once the two people nobody mapped are listed: their table."""
    await settle(pilot, pause=0.5)
    await pilot.press("f4")
    assert await wait_for(pilot, lambda: isinstance(app.screen, PeopleScreen))
    table = app.screen.query_one("#people", DataTable)
    assert await wait_for(pilot, lambda: table.row_count == 2)
    return table


async def test_unresolved_people_are_listed_and_mapped() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(110, 32)) as pilot:
        table = await open_people(pilot, app)
        screen = app.screen
        await settle(pilot)
        text = screen_text(app)
        assert INJECTION in text  # a display name from Jira, shown as typed, never as markup
        assert "2 unresolved" in text and "hidden" in text
        assert engine.identities_set == []  # nothing is stored by looking

        # The first person has no e-mail Jira shows: the operator types one and maps.
        assert screen.query_one("#email", Input).value == ""
        screen.query_one("#email", Input).value = "cy@corp.example"
        screen.query_one("#internal-id", Input).value = "u-cy"
        await pilot.click("#map")
        assert await wait_for(pilot, lambda: engine.identities_set != [])
        assert engine.identities_set == [("cloud", "acct-cy", "cy@corp.example", "u-cy")]
        assert await wait_for(pilot, lambda: table.row_count == 1)
        await settle(pilot)
        # The other shows its e-mail from Jira, prefilled; mapping without typing anything else stores it.
        assert screen.query_one("#email", Input).value == "di@x.example"
        # A button ignores clicks while it shows the last one (Textual's "-active" effect, 0.2 s): on a fast
        # machine the first mapping is done and shown within that.
        map_button = screen.query_one("#map", Button)
        assert await wait_for(pilot, lambda: not map_button.has_class("-active"))
        await pilot.click("#map")
        assert await wait_for(pilot, lambda: len(engine.identities_set) == 2)
        assert engine.identities_set[1] == ("cloud", "acct-di", "di@x.example", None)
        assert await wait_for(pilot, lambda: table.row_count == 0)
        await settle(pilot)
        assert "everyone the issues name is mapped" in screen_text(app)
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, PeopleScreen))


class RefusingEngine(FakeEngine):
    async def set_identity(self, connection: str, jira_user: str, **_kw: Any) -> Any:
        await asyncio.sleep(0)
        raise ValueError(f"{jira_user} is already linked to another person")


async def test_a_link_the_engine_refuses_is_said_and_the_person_stays_listed() -> None:
    engine = RefusingEngine()
    app = make_app(engine)
    async with app.run_test(size=(110, 32)) as pilot:
        table = await open_people(pilot, app)
        app.screen.query_one("#email", Input).value = "cy@corp.example"
        await pilot.click("#map")
        expected = "Linking the person failed: acct-cy is already linked to another person"
        assert await wait_for(pilot, lambda: any(n.message == expected for n in app._notifications))
        await settle(pilot)
        assert table.row_count == 2 and engine.identities_set == []
