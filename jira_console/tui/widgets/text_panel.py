"""A scrolled box around a panel of text that may run longer than its room (the Sync screen's detail, the
Mappings screen's validation message): shown whole where it fits, scrolled where it does not."""

from __future__ import annotations

from textual.containers import VerticalScroll


class TextPanel(VerticalScroll):
    """Takes the focus (so the keys can scroll it) only while its text is longer than the box: Tab does not
    stop on a box with nothing to scroll."""

    def allow_focus(self) -> bool:
        return self.max_scroll_y > 0
