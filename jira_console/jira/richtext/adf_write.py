"""Writing the intermediate tree as ADF fit to send to Jira Cloud.

The output is canonical (marks in :data:`MARK_ORDER`, adjacent equal text joined) and valid for Cloud:
Cloud has no user names (a ``user:`` mention becomes its text), a code mark stands alone (with at most a
link), and list items and quotes hold no headings or rules. Content is written from the tree; what the tree
only carries (:class:`~.tree.Foreign` blocks and inlines read from ADF) is written back as its source node,
and so is an inline node that still says what its source said.
"""

from __future__ import annotations

from typing import Any

from jira_console.jira.richtext.adf_read import read_inlines
from jira_console.jira.richtext.tree import (
    CODE,
    MARKS,
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
    Text,
)

Node = dict[str, Any]

#: Order of marks in every text node written; ADF itself does not care, comparisons do.
MARK_ORDER = ("link", *MARKS)
TABLE_ATTRS = {"isNumberColumnEnabled": False, "layout": "default"}
_NESTED = ("listItem", "blockquote")  # containers that hold no headings or rules


def doc(content: list[Node]) -> Node:
    """An ADF version 1 document."""
    return {"version": 1, "type": "doc", "content": content}


def write_adf(blocks: list[Block]) -> Node | None:
    """The ADF document for ``blocks``; None when there is nothing to write."""
    return doc(write_blocks(blocks, "doc")) if blocks else None


def write_blocks(blocks: list[Block], container: str) -> list[Node]:
    out: list[Node] = []
    for block in blocks:
        if isinstance(block, Foreign):
            if isinstance(block.source, dict):
                out.append(block.source)
            else:
                out.extend(write_blocks(block.blocks, container))
            continue
        node = _write_block(block, container)
        if node is not None:
            out.append(node)
    return out


def _write_block(block: Block, container: str) -> Node | None:
    if isinstance(block, Paragraph) or (isinstance(block, Heading) and container in _NESTED):
        return {"type": "paragraph", "content": write_inlines(block.content)}
    if isinstance(block, Heading):
        return {"type": "heading", "attrs": {"level": block.level}, "content": write_inlines(block.content)}
    if isinstance(block, CodeBlock):
        node: Node = {"type": "codeBlock"}
        if block.language:
            node["attrs"] = {"language": block.language}
        node["content"] = [{"type": "text", "text": block.text}] if block.text else []
        return node
    if isinstance(block, Quote):
        return {"type": "blockquote", "content": write_blocks(block.blocks, "blockquote")}
    if isinstance(block, Rule):
        return None if container in _NESTED else {"type": "rule"}
    if isinstance(block, ListBlock):
        node = {"type": "orderedList" if block.ordered else "bulletList"}
        node["content"] = [_write_item(item) for item in block.items]
        if block.ordered and block.start != 1:
            node["attrs"] = {"order": block.start}
        return node
    if isinstance(block, Table):
        return _write_table(block)
    return None


def _write_item(item: ListItem) -> Node:
    content = write_blocks(item.blocks, "listItem")
    return {"type": "listItem", "content": content or [{"type": "paragraph", "content": []}]}


def _write_table(table: Table) -> Node:
    rows = [{"type": "tableRow", "content": [_write_cell(cell) for cell in row.cells]} for row in table.rows]
    return {"type": "table", "attrs": dict(TABLE_ATTRS), "content": rows}


def _write_cell(cell: TableCell) -> Node:
    kind = "tableHeader" if cell.header else "tableCell"
    return {"type": kind, "attrs": {}, "content": write_blocks(cell.blocks, kind)}


def write_inlines(nodes: list[Inline]) -> list[Node]:
    """Inline nodes as ADF, adjacent texts with equal marks joined; a node read from ADF and unchanged since
    is written as the node it was read from, keeping what the tree does not hold (underline, colour, ...)."""
    out: list[Node] = []
    for node in nodes:
        if isinstance(node.source, dict) and read_inlines([node.source]) == [node]:
            out.append(node.source)
        elif isinstance(node, Text):
            if node.text:
                _append_text(out, node.text, _marks(node.marks, node.link))
        elif isinstance(node, Break):
            out.append({"type": "hardBreak"})
        elif isinstance(node, Mention):
            if node.account_id is not None:
                out.append({"type": "mention", "attrs": {"id": node.account_id, "text": node.text}})
            else:
                _append_text(out, "@" + (node.username or node.text.lstrip("@")), None)
        elif isinstance(node, Emoji):
            out.append({"type": "emoji", "attrs": {"shortName": node.short_name}})
        elif isinstance(node, ForeignInline) and node.text:
            _append_text(out, node.text, _marks(node.marks, node.link))
    return out


def _append_text(out: list[Node], text: str, marks: list[Node] | None) -> None:
    prev = out[-1] if out else None
    if prev is not None and prev.get("type") == "text" and prev.get("marks") == marks:
        out[-1] = dict(prev, text=prev["text"] + text)
        return
    node: Node = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    out.append(node)


def _marks(marks: frozenset[str], link: Link | None) -> list[Node] | None:
    if not marks and link is None:
        return None
    out: list[Node] = []
    if link is not None:
        attrs = {"href": link.href, "title": link.title} if link.title else {"href": link.href}
        out.append({"type": "link", "attrs": attrs})
    if CODE in marks:
        out.append({"type": CODE})  # Cloud rejects a code mark combined with emphasis
    else:
        out.extend({"type": name} for name in MARKS if name in marks)
    return out
