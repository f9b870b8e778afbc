"""A few screenshots of stable screens (fixed clock, fixed fake data), stored under tests/snapshots/.

Update after an intended visual change with ``pytest tests/test_tui_snapshots.py --snapshot-update`` and
look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot

from jira_console.tui.app import JiraConsoleApp
from jira_console.tui.screens.daemon_gone import DaemonGoneScreen
from tests.fakes import settle
from tests.fakes.engine import FIXED_NOW, FakeEngine
from tests.waiting import until

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"


class _SnapshotsBesideTests(pytest_textual_snapshot.SVGImageExtension):
    """The plugin's SVG format, kept in tests/snapshots/ rather than syrupy's default __snapshots__/."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOT_DIR / Path(test_location.filepath).stem)


@pytest.fixture(autouse=True)
def _snapshot_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsBesideTests)


def console(mode: str, engine: FakeEngine | None = None) -> JiraConsoleApp:
    # Toasts stay until the screenshot (tests/conftest.py): a slow run_before cannot outlast them.
    return JiraConsoleApp(
        engine or FakeEngine(), now=lambda: FIXED_NOW, refresh_interval=None, start_mode=mode
    )


def settled_after(*keys: str):
    """Press ``keys`` and wait for every read they start, so the screenshot never catches a half-load."""

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot, pause=0.2)
        if keys:
            await pilot.press(*keys)
            await settle(pilot, pause=0.2)

    return run_before


def test_health_attached(snap_compare) -> None:
    assert snap_compare(console("health", FakeEngine(mode="attached")), run_before=settled_after())


def test_sync(snap_compare) -> None:
    assert snap_compare(console("sync"), run_before=settled_after())


def test_conflicts(snap_compare) -> None:
    assert snap_compare(console("conflicts"), run_before=settled_after("down"))


def test_webhooks_failed_only(snap_compare) -> None:
    assert snap_compare(console("webhooks"), run_before=settled_after("f"))


def test_health_in_process(snap_compare) -> None:
    """Both cards at 80x24: a healthy connection and a degraded one, each with its sparklines."""
    assert snap_compare(console("health"), run_before=settled_after())


def test_health_daemon_gone(snap_compare) -> None:
    engine = FakeEngine(mode="attached")

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot, pause=0.2)
        engine.daemon_died()
        pilot.app.action_refresh_now()
        await until(lambda: isinstance(pilot.app.screen, DaemonGoneScreen), "the daemon-gone offer")
        await settle(pilot, pause=0.2)
        await pilot.press("escape")  # keep waiting: the warning stays on the screen bar
        await until(lambda: not isinstance(pilot.app.screen, DaemonGoneScreen), "the offer to close")
        await settle(pilot, pause=0.2)

    assert snap_compare(console("health", engine), run_before=run_before)


def test_key_reference_on_conflicts(snap_compare) -> None:
    assert snap_compare(console("conflicts"), run_before=settled_after("question_mark"))
