"""Command-palette entries: one per screen ("Go to …"), one per key of every screen, named by what the
key does ("Conflicts: resolve by taking Jira's value", "Audit log: undo the highlighted line"), and the
App's own actions.

A key's entry acts as the key does when its screen is shown. From another screen it runs only what the
screen lists in ``RUN_FROM_ANYWHERE`` (actions that need nothing seen first, or that ask); any other
action it does not run: it opens the screen and says which key does it, so a palette entry never acts on
a row the operator has not seen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from jira_console.tui.screens.audit import AuditScreen
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.screens.help import key_label

if TYPE_CHECKING:
    from jira_console.tui.app import JiraConsoleApp

OPENED_BY: dict[type[ConsoleScreen], str] = {AuditScreen: "audit_log"}
"""Screens that are not modes of their own: each is opened over its ``MODE``'s screen by this action."""


@dataclass(frozen=True)
class Place:
    """A screen the palette can take the operator to: a mode's screen, or one opened over it (``opener``:
    the action of the mode's screen that opens it)."""

    screen: type[ConsoleScreen]
    mode: str
    opener: str | None = None


def places(app: JiraConsoleApp) -> list[Place]:
    """Every mode's screen, then the screens opened from one (the audit log)."""
    modes = [Place(screen, mode) for mode, screen in app.mode_screens.items()]
    return modes + [Place(screen, screen.MODE, opener) for screen, opener in OPENED_BY.items()]


def what_it_does(binding: Binding) -> str:
    """A key's name in the palette: its tooltip (what it does), else its footer word."""
    return binding.tooltip or binding.description


async def open_place(app: JiraConsoleApp, place: Place) -> None:
    """Show ``place``'s screen (its mode, then its opener when it is opened over the mode's screen)."""
    if isinstance(app.screen, place.screen):
        return
    await app.switch_mode(place.mode)
    # Back to the mode's own screen from one opened over it (the audit log), never from under a dialog.
    while len(app.screen_stack) > 1 and isinstance(app.screen, ConsoleScreen):
        if isinstance(app.screen, place.screen):
            return
        await app.pop_screen()
    if place.opener is not None and not isinstance(app.screen, place.screen):
        await app.screen.run_action(place.opener)


async def run_key(app: JiraConsoleApp, place: Place, binding: Binding) -> None:
    """What choosing a key's entry does: the key's action where its screen is shown (or may run from
    anywhere); otherwise the screen is opened and a toast says which key does it."""
    shown = isinstance(app.screen, place.screen)
    if not shown:
        await open_place(app, place)
    screen = app.screen
    if not isinstance(screen, place.screen):
        app.notify("Close the dialog first: the palette acts on no screen behind it", severity="warning")
        return
    if shown or binding.action.partition("(")[0] in place.screen.RUN_FROM_ANYWHERE:
        await screen.first_read()  # a screen shown for the first time has nothing selected until then
        await screen.run_action(binding.action)
        return
    app.notify(
        f"{place.screen.TITLE}: look at the highlighted row, then press {key_label(binding)} to "
        f"{what_it_does(binding)}. The palette does not act on a row you have not seen.",
        markup=False,
    )


class ConsoleCommands(Provider):
    """Built from the App's ``mode_screens``, the screens opened from them and each screen class's
    described bindings, so a new binding shows up here without being listed twice."""

    def entries(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        app = cast("JiraConsoleApp", self.app)
        for mode, screen_class in app.mode_screens.items():
            yield f"Go to {screen_class.TITLE}", partial(app.switch_mode, mode), f"Show the {mode} screen"
        for place in places(app):
            here = isinstance(app.screen, place.screen)
            for binding in place.screen.action_bindings():
                if binding.key == "escape":
                    continue  # Esc leaves a field or a screen: the key reference says so everywhere
                anywhere = binding.action.partition("(")[0] in place.screen.RUN_FROM_ANYWHERE
                where = "" if here or anywhere else " (opens the screen: the key acts on what you see)"
                yield (
                    f"{place.screen.TITLE}: {what_it_does(binding)}",
                    partial(run_key, app, place, binding),
                    f"key {key_label(binding)} on the {place.screen.TITLE} screen{where}",
                )
        yield "Refresh now", app.action_refresh_now, "Re-read what the visible screen shows (F5)"
        yield "Sync all connections", partial(app.start_sync, None, False), "Incremental sync everywhere"
        yield "Key reference", app.action_help, "The keys of the visible screen (? or F1)"
        yield (
            "Run the engine here",
            app.action_offer_run_here,
            "When the daemon this console is attached to is gone (i)",
        )

    async def discover(self) -> Hits:
        for title, command, help_text in self.entries():
            yield DiscoveryHit(title, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, command, help_text in self.entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), command, help=help_text)
