"""Command-palette entries: one per screen ("Go to …") and one per screen action ("Conflicts: Take Jira"),
plus the App's own actions. Choosing a screen action switches to that screen first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from jira_console.tui.app import JiraConsoleApp


class ConsoleCommands(Provider):
    """Built from the App's ``mode_screens`` and each screen class's described bindings, so a new binding
    shows up here without being listed twice."""

    def entries(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        app = cast("JiraConsoleApp", self.app)
        for mode, screen_class in app.mode_screens.items():
            yield f"Go to {screen_class.TITLE}", partial(app.switch_mode, mode), f"Show the {mode} screen"
        for mode, screen_class in app.mode_screens.items():
            for binding in screen_class.action_bindings():
                key = binding.key_display or binding.key
                yield (
                    f"{screen_class.TITLE}: {binding.description}",
                    partial(app.run_on_screen, mode, binding.action),
                    f"key {key} on the {mode} screen",
                )
        yield "Refresh now", app.action_refresh_now, "Re-read what the visible screen shows"
        yield "Sync all connections", partial(app.start_sync, None, False), "Incremental sync everywhere"

    async def discover(self) -> Hits:
        for title, command, help_text in self.entries():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self.entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
