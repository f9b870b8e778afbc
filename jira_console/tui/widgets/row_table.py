"""A console table whose Home and End keys move the highlighted row.

DataTable binds Home/End to horizontal scrolling, which in a row-cursor table leaves the highlight where it
was: the operator pressed Home, saw nothing move, and the next key acted on the row still highlighted."""

from __future__ import annotations

from textual.binding import Binding

from jira_console.tui.widgets.console_table import ConsoleTable


class RowTable(ConsoleTable):
    """A :class:`ConsoleTable` where Home/End go to the first/last row (as Ctrl+Home/Ctrl+End do)."""

    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]
