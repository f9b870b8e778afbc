"""Base, local and Jira values of one conflict side by side, so the operator sees what each side changed
and when: the local and the Jira pane carry the time of their side's edit, the base pane when the conflict
was found. A person or sprint the store knows is named under its id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from jira_console.store.converters import ConflictRecord
from jira_console.tui.format import json_block, literal, moment


class ConflictDetail(Horizontal):
    """Three scrollable panes plus a caption line. ``show(None)`` clears them."""

    DEFAULT_CSS = """
    ConflictDetail { height: 8; }
    ConflictDetail > VerticalScroll {
        width: 1fr;
        border: round $panel;
        padding: 0 1;
    }
    ConflictDetail > #local { border: round $warning; }
    ConflictDetail > #jira { border: round $accent; }
    """

    SIDES = ("base", "local", "jira")

    def compose(self) -> ComposeResult:
        for side in self.SIDES:
            with VerticalScroll(id=side):
                yield Static(id=f"{side}-value")

    def on_mount(self) -> None:
        for side in self.SIDES:
            self.query_one(f"#{side}").border_title = side

    def show(
        self, record: ConflictRecord | None, now: datetime, names: Mapping[str, str] | None = None
    ) -> None:
        """Show ``record``'s three values (all rendered literally); ``names`` gives a side's value a name;
        times are shown as briefly as they read unambiguously beside ``now``."""
        values = (record.base, record.local, record.jira) if record is not None else (None, None, None)
        for side, shown in zip(self.SIDES, values, strict=True):
            pane = self.query_one(f"#{side}", VerticalScroll)
            value = pane.query_one(Static)
            if record is None:
                value.update(Text("—", style="dim"))
                pane.border_subtitle = ""
                continue
            text = json_block(shown)
            name = (names or {}).get(side)
            if name is not None:
                text.append("\n")
                text.append_text(literal(name, style="italic"))
            value.update(text)
        if record is not None:
            self.query_one("#base").border_subtitle = f"found {moment(record.detected_at, now)}"
            self.query_one("#local").border_subtitle = f"edited {moment(record.local_edited_at, now)}"
            self.query_one("#jira").border_subtitle = f"edited {moment(record.jira_edited_at, now)}"
