"""Modal: what an undo will write where (a dry run's plan), confirmed before anything is written."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from jira_console.facade.undo import UndoResult, UndoStep
from jira_console.tui.format import literal, value_inline

ACTION_STYLE = {"write": "bold", "skip": "dim", "conflict": "yellow", "refused": "red"}
MAX_LINES = 200
"""Steps listed in the dialog; the rest are counted (a run can reverse thousands)."""


def step_line(step: UndoStep, width: int = 22) -> Text:
    """``OPS-1 summary → Jira: "now" ⇒ "before"`` and what the plan says of it, as literal text."""
    line = Text()
    line.append_text(literal(step.issue_key))
    line.append(" ")
    line.append_text(literal(step.field or "*"))
    line.append(f" → {step.where}: ", style="bold")
    line.append_text(value_inline(step.current, width))
    line.append(" ⇒ ")
    line.append_text(value_inline(step.value, width))
    line.append(f"  [{step.action}]", style=ACTION_STYLE.get(step.action, ""))
    if step.note:
        line.append("  ")
        line.append_text(literal(step.note, style="italic"))
    return line


class UndoConfirmScreen(ModalScreen[bool]):
    """Dismisses with True (write it) or False. Cancel has the focus first, so a stray Enter writes
    nothing; with nothing to write there is only Close."""

    CSS_PATH = "modals.tcss"
    BINDINGS = [
        Binding("escape", "choose(False)", "Cancel"),
        Binding("y", "choose(True)", "Undo"),
    ]

    def __init__(self, what: str, plan: UndoResult) -> None:
        super().__init__()
        self.what = what
        self.plan = plan
        self.writes = sum(1 for s in plan.steps if s.action in ("write", "conflict"))

    def compose(self) -> ComposeResult:
        counts = " · ".join(f"{n} {a}" for a, n in sorted(self.plan.counts().items()))
        with Vertical(classes="dialog undo"):
            yield Static(Text(f"Undo {self.what}?", style="bold"), classes="title")
            yield Static(Text(f"{len(self.plan.steps)} change(s): {counts}"))
            with VerticalScroll(classes="steps"):
                for step in self.plan.steps[:MAX_LINES]:
                    yield Static(step_line(step))
                if len(self.plan.steps) > MAX_LINES:
                    yield Static(Text(f"… and {len(self.plan.steps) - MAX_LINES} more", style="dim"))
            yield Static(
                Text(
                    "Jira values are as last synced; each write compares first, and a value changed since "
                    "becomes a conflict instead of being overwritten.",
                    style="italic",
                ),
                classes="hint",
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel" if self.writes else "Close", id="cancel")
                if self.writes:
                    yield Button(f"Undo ({self.writes})", variant="error", id="apply")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "apply")

    def action_choose(self, apply: bool) -> None:
        self.dismiss(bool(apply and self.writes))
