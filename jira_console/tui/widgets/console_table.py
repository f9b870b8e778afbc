"""The DataTable every console screen uses: rows are selected whole, and the table repaints when its
automatic column widths grow after rows arrive."""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.widgets import DataTable


class ConsoleTable(DataTable):
    """A row-cursor, zebra-striped DataTable.

    Why the ``virtual_size`` watcher: DataTable measures auto-width columns on idle, after rows are added,
    but caches rendered lines under a counter that the measuring does not advance. When a frame is painted
    between ``add_row`` and that idle pass (rows arriving from a worker make this common), cells stay cut to
    the header's width until the cursor moves. Re-setting one cell to its own value advances the counter
    through public API, so the next frame uses the measured widths.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", True)
        super().__init__(**kwargs)

    def watch_virtual_size(self, old: Size, new: Size) -> None:
        if new.width != old.width and self.row_count and self.columns:
            origin = Coordinate(0, 0)
            self.update_cell_at(origin, self.get_cell_at(origin))
