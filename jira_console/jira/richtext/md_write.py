"""Writing the intermediate tree as canonical Markdown (blocks; inline content in :mod:`.md_inline`).

Canonical Markdown is the normal form of the local side: parsing it back (:mod:`.md_parse`) gives the same
tree, and writing that gives the same text again. Blocks are separated by one blank line; bullets are ``- ``,
numbers ``1. ``, code is fenced, quotes use ``> ``, rules ``---``, tables are GFM tables (a header-less table
gets an empty header row, dropped on the way back), a hard break is ``\\`` + newline (``<br>`` in a table
cell). Two lists of the same kind in a row alternate their markers (``*``, ``1)``) so they stay two lists.
Carried Jira blocks (:class:`~.tree.Foreign`) show as their content.
"""

from __future__ import annotations

import re

from jira_console.jira.richtext.md_inline import render_inline
from jira_console.jira.richtext.md_text import odd_backslashes
from jira_console.jira.richtext.syntax import protect_edge_whitespace
from jira_console.jira.richtext.tree import (
    Block,
    Break,
    CodeBlock,
    Foreign,
    Heading,
    Inline,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Table,
    TableCell,
    Text,
    merge_text,
    plain_text,
    splice,
    text_inlines,
)

_LINE_START_RE = re.compile(r"^(?:[-+#>=]|\d{1,9}[.)](?:[ \t]|$))")
_INFO_RE = re.compile(r"[^\s`]+")
_FIRST_ITEM_RE = re.compile(r"1[.)]")
_RULE_LINE_RE = re.compile(r"(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}")
_EMPTY_ITEM_RE = re.compile(r"(?:[-*]|\d+[.)])(?:\n|$)")

#: What the previous sibling was, for marker alternation: (ordered?, alternate markers?) of a list, or None.
_ListState = tuple[bool, bool] | None


def render_markdown(blocks: list[Block]) -> str:
    """The canonical Markdown of ``blocks`` (may raise RecursionError on absurdly deep trees)."""
    return "\n\n".join(_render_siblings(blocks))


def _render_siblings(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    previous: _ListState = None
    for block in splice(blocks, Foreign):
        text, previous = _render_sibling(block, previous)
        if text is not None:
            out.append(text)
    return out


def _render_sibling(block: Block, previous: _ListState) -> tuple[str | None, _ListState]:
    """Render one block; two lists of the same kind in a row alternate markers so they stay apart (carried
    blocks are spliced out before, so that holds across their edges)."""
    if isinstance(block, ListBlock):
        alternate = previous is not None and previous[0] == block.ordered and not previous[1]
        text = _render_list(block, alternate)
        return text, ((block.ordered, alternate) if text is not None else previous)
    text = _render_block(block)
    return text, (None if text is not None else previous)


def _render_block(block: Block) -> str | None:
    if isinstance(block, Paragraph):
        # a trailing hard break shows nothing and Markdown cannot end a paragraph with one
        text = render_inline(block.content).rstrip("\n")
        return escape_lines(text.split("\n"), "\\\n") if text else None
    if isinstance(block, Heading):
        text = escape_lines([render_inline(_one_line(block.content))], "")
        if text.endswith("#") and not odd_backslashes(text[:-1]):
            text = text[:-1] + "\\#"  # a trailing '#' run would be read back as the optional closing sequence
        return "#" * block.level + (" " + text if text else "")
    if isinstance(block, CodeBlock):
        return _render_code(block.language, block.text)
    if isinstance(block, Quote):
        inner = render_markdown(block.blocks)
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n")) if inner else None
    if isinstance(block, Rule):
        return "---"
    if isinstance(block, ListBlock):
        return _render_list(block, alternate=False)
    if isinstance(block, Table):
        return _render_table(block)
    return render_markdown(block.blocks) or None


def _one_line(content: list[Inline]) -> list[Inline]:
    """A heading's content: a Markdown heading is one line, so inner breaks read as spaces."""
    while content and isinstance(content[-1], Break):
        content = content[:-1]
    while content and isinstance(content[0], Break):
        content = content[1:]
    if not any(isinstance(node, Break) for node in content):
        return content
    return merge_text(Text(" ") if isinstance(node, Break) else node for node in content)


def _render_code(language: str, text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0) if "`" in text else 0
    fence = "`" * max(3, longest + 1)
    if not _INFO_RE.fullmatch(language):
        language = ""  # an info string with spaces or backticks cannot round-trip
    return f"{fence}{language}\n{text}\n{fence}" if text else f"{fence}{language}\n{fence}"


def _render_list(block: ListBlock, alternate: bool) -> str | None:
    lines: list[str] = []
    for index, item in enumerate(block.items):
        if block.ordered:
            marker = f"{block.start + index}{')' if alternate else '.'} "
        else:
            marker = "* " if alternate else "- "
        body = _render_item_body(item.blocks)
        pad = " " * len(marker)
        body_lines = body.split("\n") if body else [""]
        first = (marker + body_lines[0]).rstrip()
        if _RULE_LINE_RE.fullmatch(first):
            # '- - -' (an item opening with nested lists of empty items) would read as a rule: the item's
            # content starts on the next line instead
            first, body_lines = marker.rstrip(), ["", *body_lines]
        lines.append(first)
        lines.extend(pad + line if line else "" for line in body_lines[1:])
    return "\n".join(lines) if lines else None


def _render_item_body(blocks: list[Block]) -> str:
    parts: list[str] = []
    previous_kind: type | None = None
    previous: _ListState = None
    for block in splice(blocks, Foreign):
        text, previous = _render_sibling(block, previous)
        if text is None:
            continue
        if parts:
            # a nested list may interrupt a paragraph without a blank line, unless it is an ordered list
            # not starting at 1 or its first item is empty (CommonMark would read those as paragraph text)
            tight = (
                previous_kind is Paragraph
                and isinstance(block, ListBlock)
                and (not block.ordered or _FIRST_ITEM_RE.match(text) is not None)
                and _EMPTY_ITEM_RE.match(text) is None
            )
            parts.append("\n" if tight else "\n\n")
        parts.append(text)
        previous_kind = type(block)
    return "".join(parts)


def _render_table(table: Table) -> str | None:
    grid = [[_render_cell(cell) for cell in row.cells] for row in table.rows]
    if not grid:
        return None
    width = max(1, max(len(row) for row in grid))
    grid = [row + [""] * (width - len(row)) for row in grid]
    first = table.rows[0].cells
    if first and len(first) == width and all(cell.header for cell in first):
        header, body = grid[0], grid[1:]
    else:
        # GFM needs a header row; an empty one marks "this table had none" and is dropped on the way back
        header, body = [""] * width, grid
    lines = [_row(header), "| " + " | ".join(["---"] * width) + " |"]
    lines.extend(_row(cells) for cells in body)
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _render_cell(cell: TableCell) -> str:
    parts = []
    for block in splice(cell.blocks, Foreign):
        if isinstance(block, Paragraph | Heading):
            text = render_inline(block.content)
        else:
            text = render_inline(text_inlines(plain_text(block)))
        if text:
            parts.append(text)
    # every pipe gets a backslash, including those in code spans and already-escaped ones (GFM rule)
    text = "<br>".join(parts).replace("\n", "<br>").replace("|", "\\|")
    return protect_edge_whitespace(text)


def escape_lines(lines: list[str], joiner: str) -> str:
    """Escape what would start a block at the head of a line, and protect edge whitespace."""
    out = []
    for line in lines:
        if _LINE_START_RE.match(line):
            cut = len(line) - len(line.lstrip("0123456789"))  # escape the '.' of '1.', else the first char
            line = line[:cut] + "\\" + line[cut:]
        out.append(protect_edge_whitespace(line))
    return joiner.join(out)
