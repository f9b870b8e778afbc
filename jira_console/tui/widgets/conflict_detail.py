"""Base, local and Jira values of one conflict side by side, so the operator sees what each side changed."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from jira_console.tui.format import json_block, when


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

    def show(self, record: Any | None) -> None:
        """Show ``record``'s three values (all rendered literally)."""
        for side in self.SIDES:
            pane = self.query_one(f"#{side}", VerticalScroll)
            value = pane.query_one(Static)
            if record is None:
                value.update(Text("—", style="dim"))
                pane.border_subtitle = ""
                continue
            value.update(json_block(getattr(record, side)))
        if record is not None:
            self.query_one("#base").border_subtitle = when(record.detected_at)
