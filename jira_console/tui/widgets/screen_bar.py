"""The console's top line: the five screens by number and name (the current one highlighted, each
clickable), where the engine runs, and what to do when that is in trouble (a daemon gone) or when the
keyboard belongs to a text field (Esc leaves it)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.events import Click
from textual.reactive import reactive
from textual.widgets import Static


@dataclass(frozen=True)
class BarState:
    """What the bar shows besides the screens: the engine's whereabouts in a few words, whether that is
    trouble, and whether the focus is in a text field."""

    engine: str = ""
    trouble: bool = False
    typing: bool = False


class ScreenBar(Static):
    """One line. ``screens`` is ``(mode, title)`` in key order; ``current`` the mode shown."""

    DEFAULT_CSS = """
    ScreenBar {
        height: auto;
        width: 1fr;
        background: $panel;
    }
    """

    state: reactive[BarState] = reactive(BarState, layout=False)

    def __init__(self, screens: list[tuple[str, str]], current: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.screens = screens
        self.current = current
        self._spans: list[tuple[int, int, str]] = []

    def render_bar(self) -> Text:
        bar = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for number, (mode, title) in enumerate(self.screens, start=1):
            start = len(bar)
            bar.append(f" {number} {title} ", style="bold reverse" if mode == self.current else "")
            self._spans.append((start, len(bar), mode))
        state = self.state
        if state.typing:
            bar.append("  typing · Esc leaves", style="bold yellow")
        elif state.engine and not state.trouble:
            bar.append("  ")
            bar.append(state.engine, style="dim")
        if state.trouble:
            # A line of its own, so it is never the part cut off at 80 columns.
            bar.append("\n")
            bar.append(f" ⚠ {state.engine} ", style="bold white on red")
        return bar

    def watch_state(self) -> None:
        self.update(self.render_bar())

    def on_mount(self) -> None:
        self.update(self.render_bar())

    async def on_click(self, event: Click) -> None:
        """A click on a screen's name shows that screen."""
        for start, end, mode in self._spans:
            if start <= event.x < end:
                await self.app.switch_mode(mode)
