"""The DataTable every console screen uses: rows are selected whole, the highlight belongs to an item (a row
key) rather than a row number, and the table repaints when its automatic column widths grow after rows
arrive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class ConsoleTable(DataTable):
    """A row-cursor, zebra-striped DataTable whose rows carry keys (the item's id).

    Why :meth:`keeping_cursor`: the console's lists refresh by themselves (a new webhook event every few
    seconds, newest first). A DataTable keeps its cursor on a row *number*, so every row added above it
    slid a different item under the highlight, and the detail pane and the next action (retry, undo,
    resolve) followed the item that slid in, not the one the operator was reading.

    Why the ``virtual_size`` watcher: DataTable measures auto-width columns on idle, after rows are added,
    but caches rendered lines under a counter that the measuring does not advance. When a frame is painted
    between ``add_row`` and that idle pass (rows arriving from a worker make this common), cells stay cut to
    the header's width until the cursor moves. Re-setting one cell to its own value advances the counter
    through public API, so the next frame uses the measured widths.
    """

    BINDINGS = [
        # DataTable binds Home/End to horizontal scrolling, which in a row-cursor table leaves the highlight
        # where it was: the operator pressed Home, saw nothing move, and the next key acted on the same row.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        if new.width != old.width and self.row_count and self.columns:
            origin = Coordinate(0, 0)
            self.update_cell_at(origin, self.get_cell_at(origin))

    @property
    def cursor_key(self) -> str | None:
        """The key of the highlighted row (None when there is no row, or it has no key)."""
        coordinate = Coordinate(self.cursor_row, 0)
        if not self.row_count or not self.is_valid_coordinate(coordinate):
            return None
        return self.coordinate_to_cell_key(coordinate).row_key.value

    @contextmanager
    def keeping_cursor(self) -> Iterator[None]:
        """Change the rows inside the block (clear and add them again, remove some, sort): the highlight
        goes back to the row with the same key, and the view scrolls by as many rows as that row moved,
        so it stays on the same line of the screen. When its row is gone, the highlight takes the same
        position (the row that followed it), as removing a row does."""
        key, row, top = self.cursor_key, self.cursor_row, int(self.scroll_y)
        yield
        if not self.row_count:
            return
        if key is not None and key in self.rows:
            target = self.get_row_index(key)
        else:
            target = min(max(row, 0), self.row_count - 1)
        scroll_y = max(0, top + target - row)
        self.move_cursor(row=target, scroll=False)
        self.scroll_to(y=scroll_y, animate=False, immediate=True)
        # Rows added in the block are measured on idle: until then the scroll is clamped to the old height,
        # and DataTable scrolls the moved cursor into view after that pass. Both done, put the view back.
        self.call_after_refresh(self._steady, self.cursor_key, scroll_y)

    def _steady(self, key: str | None, scroll_y: int) -> None:
        if key is not None and self.cursor_key == key:  # unless the operator has moved on meanwhile
            self.scroll_to(y=scroll_y, animate=False, immediate=True)

    def remove_row(self, row_key: RowKey | str) -> None:
        """Remove a row; the highlight stays on its item when another row goes (DataTable's would stay
        on the row number, and so move to the next item when a row above it went)."""
        with self.keeping_cursor():
            super().remove_row(row_key)
