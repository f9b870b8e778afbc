"""A DataTable that holds one window of a long list and asks for the next page as the operator nears the
end of what is loaded (by cursor or by scrolling), so a 10,000-row queue opens as fast as a 500-row one."""

from __future__ import annotations

from textual.coordinate import Coordinate
from textual.message import Message

from jira_console.tui.widgets.console_table import ConsoleTable


class LazyTable(ConsoleTable):
    """Posts ``NearEnd`` once per page when fewer than ``threshold`` loaded rows remain below the cursor or
    the viewport. The owner loads the next page, appends it, and calls ``page_loaded``."""

    DEFAULT_CSS = """
    LazyTable { height: 1fr; }
    """

    class NearEnd(Message):
        """More rows are wanted."""

        def __init__(self, table: LazyTable) -> None:
            self.table = table
            super().__init__()

        @property
        def control(self) -> LazyTable:
            return self.table

    def __init__(self, *, threshold: int = 50, id: str | None = None) -> None:
        super().__init__(id=id)
        self.threshold = threshold
        self.exhausted = True
        self._asked = False

    def page_loaded(self, *, exhausted: bool) -> None:
        """Record that a page arrived (or a fresh first page); ``exhausted`` means there is nothing more."""
        self.exhausted = exhausted
        self._asked = False
        self._check_near_end()

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        self._check_near_end()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._check_near_end()

    def _check_near_end(self) -> None:
        if self.exhausted or self._asked:
            return
        last_visible = int(self.scroll_y) + self.scrollable_content_region.height
        if max(self.cursor_row, last_visible) >= self.row_count - self.threshold:
            self._asked = True
            self.post_message(self.NearEnd(self))
