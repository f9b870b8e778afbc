"""Reading Atlassian Document Format (ADF, version 1) into the intermediate tree.

Every node keeps the ADF dict it was read from as ``source``. What Markdown can express becomes the matching
tree node; everything else is carried: panels, expands, media, task and decision lists, layouts, extensions
and unknown blocks become :class:`~.tree.Foreign` blocks showing their words; status lozenges, dates, cards,
placeholders and unknown inline nodes become :class:`~.tree.ForeignInline` showing their text. Marks Markdown
cannot express (underline, colour, ...) stay on the ``source`` of their text node.

Nothing here raises on bad input: malformed nodes degrade to their text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jira_console.jira.richtext.syntax import EMOJI_RE
from jira_console.jira.richtext.tree import (
    CODE,
    EM,
    NO_MARKS,
    STRIKE,
    STRONG,
    Block,
    Break,
    CodeBlock,
    Emoji,
    Foreign,
    ForeignInline,
    Heading,
    Inline,
    Link,
    ListBlock,
    ListItem,
    Mention,
    Paragraph,
    Quote,
    Rule,
    Table,
    TableCell,
    TableRow,
    text_inlines,
)

Node = dict[str, Any]

BLOCK_TYPES = frozenset({
    "doc", "paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "blockquote",
    "rule", "table", "tableRow", "tableHeader", "tableCell", "panel", "expand", "nestedExpand",
    "mediaSingle", "mediaGroup", "decisionList", "decisionItem", "taskList", "taskItem", "layoutSection",
    "layoutColumn", "bodiedExtension", "extension", "blockCard", "embedCard",
})  # fmt: skip
INLINE_TYPES = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date",
                          "placeholder", "inlineExtension", "mediaInline"})  # fmt: skip
_EMPHASIS_MARKS = frozenset({STRONG, EM, STRIKE, CODE})


def read_adf(document: Any) -> list[Block]:
    """The blocks of an ADF document (or of any ADF node, list of nodes, or bare string); never raises
    except RecursionError on absurdly deep input (callers fall back to :func:`adf_flat_text`)."""
    if document is None:
        return []
    if isinstance(document, str):
        return _text_blocks(document)
    if isinstance(document, list):
        return read_blocks(document)
    if not isinstance(document, dict):
        return _text_blocks(str(document))
    if document.get("type") == "doc":
        return read_blocks(content(document))
    return read_blocks([document])


def content(node: Any) -> list[Any]:
    """A node's ``content`` list ([] when absent or malformed)."""
    found = node.get("content") if isinstance(node, dict) else None
    return found if isinstance(found, list) else []


def _attrs(node: Node) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _text_blocks(text: str) -> list[Block]:
    inlines = text_inlines(text.replace("\r\n", "\n"))
    return [Paragraph(inlines)] if inlines else []


def _is_inline(node: Node) -> bool:
    kind = node.get("type")
    return kind in INLINE_TYPES or (kind not in BLOCK_TYPES and "text" in node)


def read_blocks(nodes: list[Any]) -> list[Block]:
    """Read block nodes; stray inline nodes are gathered into paragraphs."""
    blocks: list[Block] = []
    run: list[Any] = []
    for node in nodes:
        if not isinstance(node, dict):
            if node is not None:
                run.append(str(node))
            continue
        if _is_inline(node):
            run.append(node)
            continue
        if run:
            blocks.append(Paragraph(read_inlines(run)))
            run = []
        blocks.append(_read_block(node))
    if run:
        blocks.append(Paragraph(read_inlines(run)))
    return blocks


def _read_block(node: Node) -> Block:
    kind = node.get("type")
    if kind == "paragraph":
        return Paragraph(read_inlines(content(node)), source=node)
    if kind == "heading":
        level = _attrs(node).get("level")
        level = level if type(level) is int and 1 <= level <= 6 else 1
        return Heading(level, read_inlines(content(node)), source=node)
    if kind == "codeBlock":
        return CodeBlock(adf_plain_text(content(node)), str(_attrs(node).get("language") or ""), source=node)
    if kind == "blockquote":
        return Quote(read_blocks(content(node)), source=node)
    if kind == "rule":
        return Rule(source=node)
    if kind in ("bulletList", "orderedList"):
        return _read_list(node)
    if kind == "table":
        return _read_table(node)
    return Foreign(str(kind), _foreign_blocks(node), source=node)


def _foreign_blocks(node: Node) -> list[Block]:
    """What a construct Markdown cannot draw shows as: its content without the frame."""
    kind = node.get("type")
    children = content(node)
    if kind in ("mediaSingle", "mediaGroup", "media"):
        return _text_blocks(adf_plain_text(node))
    if kind in ("expand", "nestedExpand"):
        title = str(_attrs(node).get("title") or "")
        return _text_blocks(title) + read_blocks(children)
    if children:
        if any(_is_block(c) for c in children):
            return read_blocks(children)
        inlines = read_inlines(children)
        return [Paragraph(inlines)] if inlines else []
    return _text_blocks(adf_plain_text(node))


def _is_block(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") in BLOCK_TYPES


def _read_list(node: Node) -> ListBlock:
    start = _attrs(node).get("order", 1)
    start = start if type(start) is int and 0 <= start < 10**8 else 1
    items = []
    for item in content(node):
        if isinstance(item, dict):
            children = content(item) if item.get("type") == "listItem" else [item]
            items.append(ListItem(read_blocks(children), source=item))
    return ListBlock(node.get("type") == "orderedList", items, start, source=node)


def _read_table(node: Node) -> Table:
    rows = []
    for row in content(node):
        if isinstance(row, dict):
            cells = [
                TableCell(read_blocks(content(cell)), cell.get("type") == "tableHeader", source=cell)
                for cell in content(row)
                if isinstance(cell, dict)
            ]
            rows.append(TableRow(cells, source=row))
    return Table(rows, source=node)


# ---- inline -----------------------------------------------------------------------------------------


def read_inlines(nodes: list[Any]) -> list[Inline]:
    """Read inline nodes into flat tree inlines (newlines in text become breaks)."""
    out: list[Inline] = []
    for node in nodes:
        if not isinstance(node, dict):
            if node is not None:
                out.extend(text_inlines(str(node)))
            continue
        kind = node.get("type")
        if kind == "text":
            marks, link = _marks(node)
            out.extend(text_inlines(str(node.get("text") or ""), marks, link, node))
        elif kind == "hardBreak":
            out.append(Break(source=node))
        elif kind == "mention":
            out.append(_mention(node))
        elif kind == "emoji" and EMOJI_RE.fullmatch(str(_attrs(node).get("shortName") or "")):
            out.append(Emoji(str(_attrs(node)["shortName"]), source=node))
        else:
            out.extend(_foreign_inline(node))
    return out


def _mention(node: Node) -> Mention:
    attrs = _attrs(node)
    username = attrs.get("username")
    account_id = attrs.get("id")
    return Mention(
        str(attrs.get("text") or ""),
        account_id=None if account_id is None else str(account_id),
        username=None if username is None else str(username),
        source=node,
    )


def _foreign_inline(node: Node) -> list[Inline]:
    kind = str(node.get("type"))
    attrs = _attrs(node)
    if kind == "inlineCard" and attrs.get("url"):
        url = str(attrs["url"])
        return [ForeignInline(kind, url, NO_MARKS, Link(url), source=node)]
    text = adf_plain_text(node)
    if not text:
        return []
    marks, link = _marks(node)
    lines = text.split("\n")
    out: list[Inline] = [ForeignInline(kind, lines[0], marks, link, source=node)] if lines[0] else []
    for line in lines[1:]:
        out.append(Break())
        if line:
            out.append(ForeignInline(kind, line, marks, link))
    return out


def _marks(node: Node) -> tuple[frozenset[str], Link | None]:
    marks = node.get("marks")
    if not marks or not isinstance(marks, list):
        return NO_MARKS, None
    link = None
    names: list[str] = []
    for mark in marks:
        if not isinstance(mark, dict):
            continue
        kind = mark.get("type")
        if kind == "link":
            attrs = _attrs(mark)
            if attrs.get("href") is not None:
                link = Link(str(attrs["href"]), str(attrs.get("title") or ""))
        elif kind in _EMPHASIS_MARKS:
            names.append(kind)
    return (frozenset(names) if names else NO_MARKS), link


# ---- degrading to text ------------------------------------------------------------------------------


def adf_plain_text(node: Any) -> str:
    """All the readable text under an ADF node (what a node degrades to)."""
    if isinstance(node, list):
        return "".join(adf_plain_text(n) for n in node)
    if not isinstance(node, dict):
        return "" if node is None else str(node)
    kind = node.get("type")
    attrs = _attrs(node)
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "placeholder"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("id") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if kind == "date":
        return _date_text(attrs.get("timestamp"))
    if kind in ("media", "mediaInline"):
        return str(attrs.get("alt") or "")
    children = content(node)
    if kind not in BLOCK_TYPES and isinstance(node.get("text"), str) and not children:
        return str(node["text"])  # an unknown inline node that carries its text directly
    parts = [adf_plain_text(c) for c in children]
    block = kind in BLOCK_TYPES or kind not in INLINE_TYPES and any(_is_block(c) for c in children)
    title = str(attrs.get("title") or "") if kind in ("expand", "nestedExpand") else ""
    joined = ("\n" if block else "").join(p for p in parts if p or not block)
    return f"{title}\n{joined}" if title else joined


def adf_flat_text(node: Any) -> str:
    """The text strings under an ADF node, found without recursion (for absurdly deep input)."""
    out: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, list):
            stack.extend(reversed(current))
        elif isinstance(current, dict):
            if isinstance(current.get("text"), str):
                out.append(current["text"])
            if current.get("type") in BLOCK_TYPES and out and not out[-1].endswith("\n"):
                out.append("\n")
            stack.extend(reversed(content(current)))
    return "".join(out).strip("\n")


def _date_text(timestamp: Any) -> str:
    """ADF ``date`` nodes carry epoch milliseconds as a string; show them as an ISO date."""
    try:
        return datetime.fromtimestamp(int(str(timestamp)) / 1000, tz=UTC).date().isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(timestamp or "")
