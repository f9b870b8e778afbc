"""Mappings: pick a mapping, edit its TOML, and watch a live preview (Jira value → internal value → back to
Jira, with errors and validation notes) over chosen issues. Validation runs shortly after typing stops."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from jira_console.tui import messages
from jira_console.tui.format import json_inline, literal
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.console_table import ConsoleTable


@dataclass(frozen=True)
class MappingOpened:
    mapping: Any
    toml: str


@dataclass(frozen=True)
class PreviewResult:
    text: str
    definition: dict | None
    rows: list[Any]
    error: str | None


class MappingsScreen(ConsoleScreen):
    """List, editor, validation line, issue chooser and preview table."""

    TITLE = "Mappings"
    CSS_PATH = "mappings.tcss"
    AUTO_FOCUS = "#mapping-list"
    VALIDATE_DELAY = 0.4
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("f2", "focus_editor", "Editor"),
        Binding("f3", "focus_list", "List"),
        Binding("ctrl+r", "reload", "Reload list"),
    ]

    def __init__(self, engine: Any, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self.mappings: list[Any] = []
        self.current: Any | None = None
        self.saved_text = ""
        self.result: PreviewResult | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield OptionList(id="mapping-list")
            yield TextArea(id="editor", show_line_numbers=False, soft_wrap=False, tab_behavior="indent")
        yield Static(id="validation")
        yield Input(
            placeholder="issue keys for the preview, comma separated (empty: first 20)",
            id="issues",
            compact=True,
        )
        yield ConsoleTable(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#preview", DataTable).add_columns("key", "jira", "→ internal", "→ back", "notes")
        self.query_one("#mapping-list").border_title = "mappings"
        self.query_one("#editor").border_title = "definition (TOML)"

    def load(self) -> list[Any]:
        return self.engine.list_mappings()

    def show(self, data: Any) -> None:
        if isinstance(data, MappingOpened):
            self._opened(data)
        elif isinstance(data, PreviewResult):
            self._previewed(data)
        else:
            self._listed(data)

    def _listed(self, mappings: list[Any]) -> None:
        def identity(items: list[Any]) -> list[tuple[Any, ...]]:
            return [(m.id, m.name, m.version, m.enabled, getattr(m, "connection", None)) for m in items]

        if identity(mappings) == identity(self.mappings):
            return  # rebuilding would move the highlight under the operator's cursor
        self.mappings = mappings
        options = self.query_one("#mapping-list", OptionList)
        highlighted = options.highlighted
        options.set_options(
            Option(literal(_label(m), style="" if m.enabled else "dim"), id=str(m.id)) for m in mappings
        )
        if mappings:
            options.highlighted = min(highlighted or 0, len(mappings) - 1)
        if self.current is None and mappings:
            self.open_mapping(mappings[0])

    def open_mapping(self, mapping: Any) -> None:
        """Load ``mapping``'s definition into the editor (converted to TOML in a worker)."""
        self.run_worker(
            lambda: self.fetch(
                lambda: MappingOpened(mapping, self.engine.mapping_to_toml(mapping.definition))
            ),
            thread=True,
            group="open",
            exclusive=True,
            exit_on_error=False,
        )

    def _opened(self, opened: MappingOpened) -> None:
        self.current = opened.mapping
        self.saved_text = opened.toml
        self.query_one("#editor", TextArea).load_text(opened.toml)  # posts Changed → preview

    @on(OptionList.OptionSelected, "#mapping-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        for mapping in self.mappings:
            if str(mapping.id) == event.option.id:
                self.open_mapping(mapping)

    # -- validation and preview ---------------------------------------------------------------------

    @on(TextArea.Changed, "#editor")
    @on(Input.Changed, "#issues")
    def _edited(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.VALIDATE_DELAY, self.validate)
        self._render_validation(checking=True)

    def issue_keys(self) -> list[str] | None:
        keys = [k.strip() for k in self.query_one("#issues", Input).value.split(",") if k.strip()]
        return keys or None

    def validate(self) -> None:
        """Parse the editor's TOML and preview it over the chosen issues, in a worker thread."""
        text, keys = self.query_one("#editor", TextArea).text, self.issue_keys()

        def read() -> PreviewResult:
            try:
                definition = self.engine.mapping_from_toml(text)
                rows = self.engine.preview_mapping(definition, issue_keys=keys, limit=20)
            except ValueError as exc:
                return PreviewResult(text, None, [], str(exc))
            return PreviewResult(text, definition, rows, None)

        self.run_worker(
            lambda: self.fetch(read), thread=True, group="preview", exclusive=True, exit_on_error=False
        )

    def _previewed(self, result: PreviewResult) -> None:
        if result.text != self.query_one("#editor", TextArea).text:
            return  # the operator kept typing; a newer validation is on its way
        self.result = result
        table = self.query_one("#preview", DataTable)
        table.clear()
        for row in result.rows:
            table.add_row(
                literal(row.key),
                json_inline(row.jira_value, 14),
                json_inline(row.internal_value, 14),
                json_inline(getattr(row.back_to_jira, "value", row.back_to_jira), 14),
                self._notes(row),
            )
        self._render_validation(checking=False)

    @staticmethod
    def _notes(row: Any) -> Text:
        notes = [literal(error, style="red") for error in row.errors]
        notes += [literal(check, style="yellow") for check in row.validation]
        if not row.errors and getattr(row, "round_trip", None) is False:
            notes.append(Text("round trip differs", style="yellow"))
        return Text("; ").join(notes) if notes else Text("ok", style="green")

    def _render_validation(self, *, checking: bool) -> None:
        editor = self.query_one("#editor", TextArea)
        text = Text()
        if self.current is not None:
            text.append_text(literal(self.current.name, style="bold"))
            text.append(" modified " if editor.text != self.saved_text else " saved ", style="italic")
        if checking:
            text.append("checking…", style="dim")
        elif self.result is not None and self.result.error:
            text.append("invalid: ", style="bold red")
            text.append_text(literal(self.result.error))
        elif self.result is not None:
            errors = sum(1 for row in self.result.rows if row.errors)
            text.append(
                f"valid · {len(self.result.rows)} issues previewed · {errors} with errors", style="green"
            )
        self.query_one("#validation", Static).update(text)

    # -- saving -------------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Save the edited definition, if it is valid and its preview is current."""
        result, text = self.result, self.query_one("#editor", TextArea).text
        if result is None or result.text != text or result.definition is None:
            self.notify("Fix the definition (or wait for the check) before saving", severity="warning")
            return
        self._save(result.definition, text)

    @work(group="save", exclusive=True, exit_on_error=False)
    async def _save(self, definition: dict, text: str) -> None:
        saved = await self.engine.save_mapping(definition, actor="console")
        self.current, self.saved_text = saved, text
        self.notify(f"Saved {saved.name} v{saved.version}", markup=False)
        self._render_validation(checking=False)
        self.reload()

    def action_focus_editor(self) -> None:
        """Move the focus to the TOML editor."""
        self.query_one("#editor", TextArea).focus()

    def action_focus_list(self) -> None:
        """Move the focus to the mapping list."""
        self.query_one("#mapping-list", OptionList).focus()

    @on(messages.MappingChanged)
    def _changed_elsewhere(self) -> None:
        self.reload()


def _label(mapping: Any) -> str:
    """``name v3`` plus the connection it belongs to (the same name may exist per connection)."""
    where = getattr(mapping, "connection", None)
    return f"{mapping.name} v{mapping.version}" + (f" · {where}" if where else "")
