"""The intermediate rich-text tree: what every reader produces and every writer consumes.

Readers (ADF, wiki markup, Markdown) build these nodes; writers (ADF, wiki, Markdown) render them. Two
properties serve edits that must not destroy what Markdown cannot show:

* **Equality is content only.** ``source`` is excluded from comparison, so a block read from Jira and the
  same block parsed back from the local Markdown compare equal; two documents can be aligned block by block.
* **Nothing read is forgotten.** Every node may keep ``source``: the ADF dict it was read from, or the wiki
  text of a macro. :class:`Foreign` (blocks) and :class:`ForeignInline` carry Jira constructs Markdown has no
  syntax for (panels, expands, media, task lists, status lozenges, dates, ...): Markdown shows their
  ``blocks``/``text``, while an ADF writer can put the ``source`` node back untouched.

Inline content is flat: emphasis and links are attributes of :class:`Text`, never nesting, and text holds no
newlines (line breaks are :class:`Break` nodes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

STRONG = "strong"
EM = "em"
STRIKE = "strike"
CODE = "code"
#: The marks the tree knows, in the order ADF writers list them after ``link``.
MARKS = (STRONG, EM, STRIKE, CODE)
EMPHASIS = (STRONG, EM, STRIKE)
NO_MARKS: frozenset[str] = frozenset()


def _source() -> Any:
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Link:
    """A hyperlink on a run of text."""

    href: str
    title: str = ""


# ---- inline nodes -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Text:
    """Text (never containing a newline) with its emphasis/code marks and link."""

    text: str
    marks: frozenset[str] = NO_MARKS
    link: Link | None = None
    source: Any = _source()


@dataclass(slots=True)
class Break:
    """A hard line break."""

    source: Any = _source()


@dataclass(slots=True)
class Mention:
    """A user mention: Cloud knows account ids, Server user names; ``text`` is the label, '@' included."""

    text: str
    account_id: str | None = None
    username: str | None = None
    source: Any = _source()


@dataclass(slots=True)
class Emoji:
    """An emoji by its ``:short_name:``."""

    short_name: str
    source: Any = _source()


@dataclass(slots=True)
class ForeignInline:
    """A Jira inline node Markdown has no syntax for (status, date, card, ...), shown as ``text``."""

    kind: str
    text: str
    marks: frozenset[str] = NO_MARKS
    link: Link | None = None
    source: Any = _source()


Inline: TypeAlias = Text | Break | Mention | Emoji | ForeignInline


# ---- block nodes ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Paragraph:
    content: list[Inline]
    source: Any = _source()


@dataclass(slots=True)
class Heading:
    level: int
    content: list[Inline]
    source: Any = _source()


@dataclass(slots=True)
class CodeBlock:
    text: str
    language: str = ""
    source: Any = _source()


@dataclass(slots=True)
class Quote:
    blocks: list[Block]
    source: Any = _source()


@dataclass(slots=True)
class Rule:
    source: Any = _source()


@dataclass(slots=True)
class ListItem:
    blocks: list[Block]
    source: Any = _source()


@dataclass(slots=True)
class ListBlock:
    """A bullet list, or an ordered list counting from ``start``."""

    ordered: bool
    items: list[ListItem]
    start: int = 1
    source: Any = _source()


@dataclass(slots=True)
class TableCell:
    blocks: list[Block]
    header: bool = False
    source: Any = _source()


@dataclass(slots=True)
class TableRow:
    cells: list[TableCell]
    source: Any = _source()


@dataclass(slots=True)
class Table:
    rows: list[TableRow]
    source: Any = _source()


@dataclass(slots=True)
class Foreign:
    """A Jira block Markdown cannot draw (panel, expand, media, task list, wiki ``{panel}``, ...).

    ``blocks`` is what it shows as (the frame dropped, the words kept); ``kind`` names the construct.
    """

    kind: str
    blocks: list[Block]
    source: Any = _source()


Block: TypeAlias = Paragraph | Heading | CodeBlock | Quote | Rule | ListBlock | Table | Foreign


# ---- helpers ----------------------------------------------------------------------------------------


def merge_text(nodes: Iterable[Inline]) -> list[Inline]:
    """Join adjacent texts with equal marks and link, and drop empty ones (canonical inline content)."""
    out: list[Inline] = []
    for node in nodes:
        if type(node) is Text:
            if not node.text:
                continue
            prev = out[-1] if out else None
            if type(prev) is Text and prev.marks == node.marks and prev.link == node.link:
                out[-1] = Text(prev.text + node.text, prev.marks, prev.link)
                continue
        out.append(node)
    return out


def text_inlines(
    text: str, marks: frozenset[str] = NO_MARKS, link: Link | None = None, source: Any = None
) -> list[Inline]:
    """Plain text as inline content: newlines become breaks, empty pieces are left out."""
    if "\n" not in text:
        return [Text(text, marks, link, source)] if text else []
    out: list[Inline] = []
    for k, piece in enumerate(text.split("\n")):
        if k:
            out.append(Break())
        if piece:
            out.append(Text(piece, marks, link, source))
    return out


def inline_text(nodes: Iterable[Inline]) -> str:
    """The readable text of inline content (breaks as newlines)."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | ForeignInline | Mention):
            parts.append(node.text)
        elif isinstance(node, Emoji):
            parts.append(node.short_name)
        else:
            parts.append("\n")
    return "".join(parts)


def plain_text(block: Block | ListItem | TableRow | TableCell) -> str:
    """The readable text of a block, its children on separate lines (what a one-line context shows)."""
    if isinstance(block, Paragraph | Heading):
        return inline_text(block.content)
    if isinstance(block, CodeBlock):
        return block.text
    if isinstance(block, Rule):
        return ""
    children: list[Any]
    if isinstance(block, ListBlock):
        children = block.items
    elif isinstance(block, Table):
        children = block.rows
    elif isinstance(block, TableRow):
        children = block.cells
    else:
        children = block.blocks
    return "\n".join(text for text in map(plain_text, children) if text)


def splice(blocks: list[Block], kind: type[Foreign] | type[Quote]) -> list[Block]:
    """``blocks`` with every ``kind`` container (at any depth of such containers) replaced by its blocks."""
    if not any(type(b) is kind for b in blocks):
        return blocks
    out: list[Block] = []
    for block in blocks:
        if type(block) is kind and isinstance(block, Foreign | Quote):
            out.extend(splice(block.blocks, kind))
        else:
            out.append(block)
    return out


def flat_text(blocks: list[Block]) -> str:
    """The words of a tree found without recursion: the fallback when a tree is too deep to render."""
    out: list[str] = []
    stack: list[Any] = list(reversed(blocks))
    while stack:
        node = stack.pop()
        if isinstance(node, Paragraph | Heading):
            out.append(inline_text(node.content))
        elif isinstance(node, CodeBlock):
            out.append(node.text)
        elif isinstance(node, ListBlock):
            stack.extend(reversed(node.items))
        elif isinstance(node, Table):
            stack.extend(reversed(node.rows))
        elif isinstance(node, TableRow):
            stack.extend(reversed(node.cells))
        elif not isinstance(node, Rule):
            stack.extend(reversed(node.blocks))
    return "\n".join(text for text in out if text)
