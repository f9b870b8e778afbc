"""Mappings: pick a mapping, edit its TOML, and watch a live preview (Jira value → internal value → back to
Jira, with errors and validation notes) over chosen issues. Validation runs shortly after typing stops.

The editor takes every printable key while it has the focus (the number keys too): Esc leaves it for the
list, as its border says, and Tab moves on like everywhere else (TOML needs no tab characters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from jira_console.facade import ConsoleEngine
from jira_console.mapping import PreviewRow
from jira_console.store.converters import MappingRecord
from jira_console.tui import messages
from jira_console.tui.format import json_inline, literal
from jira_console.tui.screens.base import ConsoleScreen
from jira_console.tui.widgets.console_table import ConsoleTable
from jira_console.tui.widgets.text_panel import TextPanel

PREVIEW_COLUMNS = ("key", "jira", "→ internal", "→ back", "notes")


@dataclass(frozen=True)
class MappingOpened:
    """A mapping chosen from the list, with its definition as TOML for the editor."""

    mapping: MappingRecord
    toml: str


@dataclass(frozen=True)
class PreviewResult:
    """The editor's ``text`` checked: its definition and preview rows, or why it is invalid."""

    text: str
    definition: dict[str, Any] | None
    rows: list[PreviewRow]
    error: str | None
    missing: tuple[str, ...] = ()
    """Issue keys asked for that the connection has no stored issue under."""


class MappingsScreen(ConsoleScreen):
    """List, editor, validation line, issue chooser and preview table."""

    TITLE = "Mappings"
    MODE = "mappings"
    CSS_PATH = "mappings.tcss"
    AUTO_FOCUS = "#mapping-list"
    VALIDATE_DELAY = 0.4
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="save the mapping in the editor"),
        Binding("f2", "focus_editor", "Editor", tooltip="move to the mapping editor"),
        Binding("f3", "focus_list", "List", tooltip="move to the list of mappings"),
        Binding("f4", "people", "People", tooltip="map the people nobody mapped yet"),
        Binding("ctrl+n", "new", "New", tooltip="start a new mapping from an example"),
        Binding("ctrl+r", "reload", "Reload list", show=False),
    ]
    RUN_FROM_ANYWHERE = frozenset({"focus_editor", "focus_list", "people", "reload"})
    HELP_NOTES = (
        "Editor and issue field take all keys: Esc or F3 leaves.",
        "Ctrl+S saves from anywhere on this screen, once valid.",
        "F4 lists the people nobody mapped yet, and maps them.",
    )

    def __init__(self, engine: ConsoleEngine, *, now: Callable[[], datetime]) -> None:
        super().__init__(engine, now=now)
        self.mappings: list[MappingRecord] = []
        self.current: MappingRecord | None = None
        self.saved_text = ""
        self.result: PreviewResult | None = None
        self._timer: Timer | None = None
        self._drop_armed = False
        """Ctrl+N was pressed over unsaved edits: pressed again next, it drops them."""

    def compose(self) -> ComposeResult:
        yield self.screen_bar()
        with Horizontal(id="top"):
            yield OptionList(id="mapping-list")
            yield TextArea(id="editor", show_line_numbers=False, soft_wrap=False, tab_behavior="focus")
        with TextPanel(id="validation-box"):  # an error is shown whole: scrolled when it is long
            yield Static(id="validation")
        yield Input(
            placeholder="issue keys for the preview, comma separated (empty: first 20)",
            id="issues",
            compact=True,
        )
        yield ConsoleTable(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#preview", DataTable).add_columns(*PREVIEW_COLUMNS)
        self.query_one("#mapping-list").border_title = "mappings"
        editor = self.query_one("#editor")
        editor.border_title = "definition (TOML)"
        editor.border_subtitle = "Esc leaves · Ctrl+S saves"

    def load(self) -> list[MappingRecord]:
        return self.engine.list_mappings()

    def show(self, data: list[MappingRecord] | MappingOpened | PreviewResult) -> None:
        if isinstance(data, MappingOpened):
            self._opened(data)
        elif isinstance(data, PreviewResult):
            self._previewed(data)
        else:
            self._listed(data)

    def _listed(self, mappings: list[MappingRecord]) -> None:
        def identity(items: list[MappingRecord]) -> list[tuple[Any, ...]]:
            return [(m.id, m.name, m.version, m.enabled, m.connection) for m in items]

        editor = self.query_one("#editor", TextArea)
        if not mappings and self.current is None and not editor.text.strip():
            self.saved_text = NEW_MAPPING
            editor.load_text(NEW_MAPPING)  # an empty screen would not say how to begin
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

    def open_mapping(self, mapping: MappingRecord) -> None:
        """Load ``mapping``'s definition into the editor (converted to TOML in a worker)."""
        self.read_in_worker(
            lambda: MappingOpened(mapping, self.engine.mapping_to_toml(mapping.definition)),
            "Opening the mapping",
            "open",
        )

    def _opened(self, opened: MappingOpened) -> None:
        self.current = opened.mapping
        self.saved_text = opened.toml
        self.query_one("#editor", TextArea).load_text(opened.toml)  # posts Changed → preview

    @on(OptionList.OptionSelected, "#mapping-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        for mapping in self.mappings:
            if str(mapping.id) == event.option.id and not self._keep_unsaved("choosing again"):
                self.open_mapping(mapping)

    def _keep_unsaved(self, again: str) -> bool:
        """Whether unsaved edits hold back replacing the editor's text: the first time they do, and the
        operator is told how to save or drop them; ``again`` (the same step once more) drops them."""
        unsaved = self.query_one("#editor", TextArea).text != self.saved_text
        if unsaved and not self._drop_armed:
            self._drop_armed = True
            self.notify(f"Unsaved edits: Ctrl+S saves them, {again} drops them", severity="warning")
            return True
        self._drop_armed = False
        return False

    # -- validation and preview ---------------------------------------------------------------------

    @on(TextArea.Changed, "#editor")
    @on(Input.Changed, "#issues")
    def _edited(self) -> None:
        self._drop_armed = False
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
        # Over the issues of the connection the mapping belongs to (a global one: the first connection's).
        where = self.current.connection if self.current is not None else None

        def read() -> PreviewResult:
            limit = max(20, len(keys or ()))  # every key asked for, so a missing one is truly missing
            try:
                definition = self.engine.mapping_from_toml(text)
                rows = self.engine.preview_mapping(definition, issue_keys=keys, limit=limit, connection=where)
            except ValueError as exc:
                return PreviewResult(text, None, [], str(exc))
            found = {row.key for row in rows}
            missing = tuple(dict.fromkeys(key for key in keys or () if key not in found))
            return PreviewResult(text, definition, rows, None, missing)

        self.read_in_worker(read, "The preview", "preview")

    def _previewed(self, result: PreviewResult) -> None:
        if result.text != self.query_one("#editor", TextArea).text:
            return  # the operator kept typing; a newer validation is on its way
        self.result = result
        table = self.query_one("#preview", DataTable)
        # Fresh columns each time: a DataTable column never narrows, and the widths follow the rows.
        table.clear(columns=True)
        table.add_columns(*PREVIEW_COLUMNS)
        width, notes_width = self.value_width(), self.notes_width()
        for row in result.rows:
            notes = self._notes(row)
            notes.truncate(notes_width, overflow="ellipsis")
            table.add_row(
                literal(row.key),
                json_inline(row.jira_value, width),
                json_inline(row.internal_value, width),
                json_inline(row.back_to_jira.value if row.back_to_jira is not None else None, width),
                notes,
            )
        self._render_validation(checking=False)

    def notes_width(self) -> int:
        """The notes' share: as wide as the longest, at most a third of the screen (a long error must not
        push the values off it; it is cut with an ellipsis)."""
        rows = self.result.rows if self.result is not None else []
        return min(max([5, *(self._notes(row).cell_len for row in rows)]), self.size.width // 3)

    def value_width(self) -> int:
        """How wide each of the three value columns may be: what the keys and the notes leave."""
        rows = self.result.rows if self.result is not None else []
        keys = max([3, *(len(row.key) for row in rows)])
        padding = 2 * self.query_one("#preview", DataTable).cell_padding * len(PREVIEW_COLUMNS)
        return max(12, (self.size.width - keys - self.notes_width() - padding - 2) // 3)

    def on_resize(self) -> None:
        if self.result is not None:
            self._previewed(self.result)

    @staticmethod
    def _notes(row: PreviewRow) -> Text:
        notes = [literal(error, style="red") for error in row.errors]
        notes += [literal(check, style="yellow") for check in row.validation]
        if not row.errors and row.round_trip is False:
            notes.append(Text("round trip differs", style="yellow"))
        return Text("; ").join(notes) if notes else Text("ok", style="green")

    def _render_validation(self, *, checking: bool) -> None:
        editor = self.query_one("#editor", TextArea)
        text = Text()
        if self.current is not None:
            text.append_text(literal(self.current.name, style="bold"))
            text.append(" · ")
            text.append("modified" if editor.text != self.saved_text else "saved", style="italic")
            text.append(" · ")
        if checking:
            text.append("checking…", style="dim")
        elif self.result is not None and self.result.error:
            text.append("invalid: ", style="bold red")
            text.append_text(literal(self.result.error))
        elif self.result is not None:
            errors = sum(1 for row in self.result.rows if row.errors)
            previewed = len(self.result.rows)
            issues = "issue" if previewed == 1 else "issues"
            text.append(f"valid · {previewed} {issues} previewed · {errors} with errors", style="green")
            if self.result.missing:
                text.append(" · not found: ", style="bold yellow")
                text.append_text(literal(", ".join(self.result.missing), style="yellow"))
            noted = self._noted_row()
            if noted is not None:  # its notes in full: the table's note column is cut to its share
                text.append("\n")
                text.append_text(literal(f"{noted.key}: ", style="bold"))
                text.append_text(self._notes(noted))
        self.query_one("#validation", Static).update(text)

    def _noted_row(self) -> PreviewRow | None:
        """The preview row whose notes to show in full: the highlighted one when it has any, else the first
        with an error."""
        rows = self.result.rows if self.result is not None else []
        table = self.query_one("#preview", DataTable)
        if rows and 0 <= table.cursor_row < len(rows):
            row = rows[table.cursor_row]
            if row.errors or row.validation:
                return row
        return next((row for row in rows if row.errors), None)

    @on(DataTable.RowHighlighted, "#preview")
    def _preview_row_highlighted(self) -> None:
        self._render_validation(checking=False)

    # -- saving -------------------------------------------------------------------------------------

    def action_save(self) -> None:
        """Save the edited definition, if it is valid and its preview is current."""
        result, text = self.result, self.query_one("#editor", TextArea).text
        if result is None or result.text != text or result.definition is None:
            self.notify("Fix the definition (or wait for the check) before saving", severity="warning")
            return
        self._save(result.definition, text)

    @work(name="Saving the mapping", group="save", exclusive=True, exit_on_error=False)
    async def _save(self, definition: dict[str, Any], text: str) -> None:
        # A new version of the mapping being edited: same connection (the TOML does not carry it), so the
        # edit is not stored as a global mapping the connection's own would hide.
        where = self.current.connection if self.current is not None else None
        saved = await self.engine.save_mapping(definition, actor="console", connection=where)
        self.current, self.saved_text = saved, text
        self.notify(f"Saved {saved.name} v{saved.version}", markup=False)
        self._render_validation(checking=False)
        self.reload()

    def action_new(self) -> None:
        """Start a new mapping in the editor from an example that validates and previews as it is (unsaved
        edits are kept unless Ctrl+N is pressed again)."""
        if self._keep_unsaved("Ctrl+N again"):
            return
        self.current, self.saved_text = None, NEW_MAPPING
        editor = self.query_one("#editor", TextArea)
        editor.load_text(NEW_MAPPING)
        editor.focus()

    def action_people(self) -> None:
        """Show the people nobody mapped yet (for ``user`` mappings), with a way to map them."""
        from jira_console.tui.screens.people import PeopleScreen

        self.app.push_screen(PeopleScreen(self.engine))

    def action_focus_editor(self) -> None:
        """Move the focus to the TOML editor."""
        self.query_one("#editor", TextArea).focus()

    def action_focus_list(self) -> None:
        """Move the focus to the mapping list."""
        self.query_one("#mapping-list", OptionList).focus()

    @on(messages.MappingChanged)
    def _changed_elsewhere(self) -> None:
        self.reload()


NEW_MAPPING = """\
# New mapping: a Jira field -> issues.fields
# Previewed below as you type. Ctrl+S saves.
# All steps and options: docs/mappings.md
[[mapping]]
name = "summary_upper"
jira_field = "summary"  # or { name = "Team" }
internal_field = "summary_upper"
direction = "pull"      # pull | push | both
steps = [
  { op = "upper" },
]
"""


def _label(mapping: MappingRecord) -> str:
    """``name v3`` plus the connection it belongs to (the same name may exist per connection)."""
    where = mapping.connection
    return f"{mapping.name} v{mapping.version}" + (f" · {where}" if where else "")
