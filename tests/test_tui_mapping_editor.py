"""Issue 13: the console's mapping editor over the real engine and two simulated sites (Cloud and Server side
by side), in this process and attached to a daemon: it previews the issues of the connection the mapping
belongs to, resolves field selectors from the field list the syncs stored (no Jira needed), and saves a new
version of the mapping being edited (same name, same connection) which the next sync applies."""

from __future__ import annotations

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, TextArea

from jira_console.config import Settings
from jira_console.facade import Engine
from jira_console.mapping import repo as mrepo
from jira_console.simulator.model import TEAM_OPTIONS
from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.mappings import MappingsScreen
from tests.fakes import settle, wait_for
from tests.fixtures.simulator import connection_for

POINTS_SERVER = """
[[mapping]]
name = "points"
jira_field = { name = "Story Points" }
internal_field = "points"
steps = [{ op = "to_float" }]
"""

TEAM = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [{ op = "option" }]
"""


def _cells(table: DataTable) -> dict[str, str]:
    return {
        str(table.get_cell_at(Coordinate(r, 0))): str(table.get_cell_at(Coordinate(r, 2)))
        for r in range(table.row_count)
    }


@pytest.mark.parametrize("attached", [False, True], ids=["inprocess", "attached"])
async def test_the_editor_previews_the_right_connection_and_saves_where_it_edits(
    db_url, sim_factory, monkeypatch, heartbeat, attached
) -> None:
    cloud, server = sim_factory("cloud", issues=15), sim_factory("server", issues=15)
    conns = [
        connection_for(cloud, monkeypatch, name="cloud"),
        connection_for(server, monkeypatch, name="srv"),
    ]
    settings = Settings(
        database={"url": db_url},
        jira=[c.model_dump() for c in conns],
        daemon={"heartbeat_seconds": 1},
    )
    owner = Engine(settings, owner="daemon-a")  # the daemon's engine: it syncs
    await owner.start(attach=False)
    beating = None
    engine = owner
    try:
        await owner.run_sync()
        await owner.import_mappings(POINTS_SERVER, connection="srv")
        await owner.import_mappings(TEAM)  # global: applies to both
        await owner.import_mappings(TEAM, connection="srv")  # the server's own, hiding the global one
        if attached:
            beating = heartbeat(owner.db, "daemon-a")
            engine = Engine(settings, owner="console")
            await engine.start(attach=None)
            assert engine.mode == "attached"
        server_own = next(r for r in engine.list_mappings() if (r.name, r.connection) == ("team", "srv"))
        points = next(r for r in engine.list_mappings() if r.name == "points")

        app = JiraConsoleApp(engine, refresh_interval=None, start_mode="mappings")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, pause=0.6)
            screen = app.screen
            assert isinstance(screen, MappingsScreen)
            table = screen.query_one("#preview", DataTable)

            # A Server mapping by selector previews the Server site's issues (the Cloud site's "Story
            # Points" is another field with other values), its selector resolved from the stored list.
            screen.open_mapping(points)
            assert await wait_for(pilot, lambda: screen.result is not None and screen.current == points)
            await settle(pilot, pause=0.6)
            assert screen.result is not None and screen.result.error is None, screen.result.error
            shown = _cells(table)
            assert len(shown) == 15
            expected = {k: server.issue(k)["story_points"] for k in shown}
            assert any(v is not None for v in expected.values())
            assert {k: (None if v == "null" else float(v)) for k, v in shown.items()} == expected

            # Edit the server's own team mapping and save: a new version of that one, not a global one.
            screen.open_mapping(server_own)
            assert await wait_for(pilot, lambda: screen.current == server_own)
            await settle(pilot, pause=0.6)
            editor = screen.query_one(TextArea)
            assert "connection" not in editor.text  # the TOML does not carry it: the editor knows it
            old = '{ op = "option" }'
            head = editor.text[: editor.text.index(old)]
            line, column = head.count("\n"), len(head.rsplit("\n", 1)[-1])
            table_step = '{ op = "option" }, { op = "lower" }'
            editor.replace(table_step, (line, column), (line, column + len(old)))
            await settle(pilot, pause=0.6)
            assert screen.result is not None and screen.result.error is not None  # lower cannot invert
            edited = editor.text.replace(
                'internal_field = "team"', 'internal_field = "team"\ndirection = "pull"'
            )
            editor.load_text(edited)
            await settle(pilot, pause=0.6)
            assert screen.result is not None and screen.result.error is None, screen.result.error
            lowered = _cells(table)
            assert set(lowered.values()) <= {'"backend"', '"frontend"', '"platform"', "null"}
            await pilot.press("ctrl+s")
            assert await wait_for(pilot, lambda: screen.current is not None and screen.current.version == 2)
            await settle(pilot)

        stored = {(r.name, r.connection): r for r in mrepo.list_records(owner.db)}
        assert set(stored) == {("points", "srv"), ("team", None), ("team", "srv")}
        assert (stored["team", "srv"].version, stored["team", None].version) == (2, 1)
        assert stored["team", "srv"].definition["direction"] == "pull"

        # The daemon's next sync applies the new version to the server's issues (back-fill), the Cloud
        # connection keeps the global mapping.
        await owner.run_sync()
        with owner.db.session() as s:
            from jira_console.store import models as m

            rows = {(r.connection, r.key): (r.fields or {}).get("team") for r in s.query(m.Issue)}
        for (where, key), team in rows.items():
            sim = server if where == "srv" else cloud
            option = sim.issue(key)["team"]
            name = dict(TEAM_OPTIONS)[option] if option else None
            assert team == (name.lower() if name and where == "srv" else name), (where, key)
    finally:
        if beating is not None:
            beating.stop()
        if engine is not owner:
            await engine.stop()
        await owner.stop()
