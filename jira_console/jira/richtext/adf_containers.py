"""Edit-preserving ADF writes for Markdown containers: lists (item by item), tables (row by row, cell by
cell, keeping spans, widths and colours) and quotes; each holds block sequences patched like a document."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from jira_console.jira.richtext.adf_inline import precious_labels
from jira_console.jira.richtext.adf_read import content, read_blocks
from jira_console.jira.richtext.adf_write import _write_cell, _write_item
from jira_console.jira.richtext.patch import Context, key
from jira_console.jira.richtext.tree import Block, ListBlock, ListItem, Quote, Table, TableRow

Node = dict[str, Any]
NO = "no"
"""The shapes do not fit: the block is replaced instead of patched."""


def pair_container(node: Node, block: Block, ctx: Context, where: str) -> list[Node] | None | str:
    """``node`` patched to say ``block``: a list of one node, None (kept by the policy) or :data:`NO`."""
    from jira_console.jira.richtext.adf_patch import patch_sequence

    kind = node.get("type")
    if isinstance(block, Quote) and kind == "blockquote":
        return [{**node, "content": patch_sequence(content(node), block.blocks, ctx)}]
    if isinstance(block, ListBlock) and kind == ("orderedList" if block.ordered else "bulletList"):
        items = _pair_children(content(node), block.items, ctx, where, _ItemOps(ctx))
        if items is None:
            return None
        patched = {**node, "content": items}
        if block.ordered:
            order = (node.get("attrs") or {}).get("order", 1) if isinstance(node.get("attrs"), dict) else 1
            if order != block.start:
                patched["attrs"] = {**(node.get("attrs") or {}), "order": block.start}
        return [patched]
    if isinstance(block, Table) and kind == "table":
        rows = _pair_children(content(node), block.rows, ctx, where, _RowOps(ctx))
        if rows is None:
            return None
        patched = {**node, "content": rows}
        # Kept cells keep their kind and spans, so the patched table can read back otherwise than the Markdown
        # says (text typed into the empty header row Markdown shows above a table whose first row is one
        # spanning header cell lands in that cell, which still reads as an ordinary row): such a table is
        # written afresh instead.
        if _blocks_key(read_blocks([patched])) != key(block):
            return NO
        return [patched]
    return NO


class _ItemOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def key(self, node: Any) -> str:
        return _blocks_key(read_blocks(content(node)) if isinstance(node, dict) else [])

    def new_key(self, item: Any) -> str:
        return _blocks_key(item.blocks)

    def pair(self, node: Any, item: Any) -> Any:
        from jira_console.jira.richtext.adf_patch import patch_sequence

        if not isinstance(node, dict) or node.get("type") != "listItem":
            return NO
        inner = patch_sequence(content(node), item.blocks, self.ctx)
        return {**node, "content": inner or [{"type": "paragraph", "content": []}]}

    def write(self, item: Any) -> Node:
        assert isinstance(item, ListItem)
        return _write_item(item)


class _RowOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def key(self, node: Any) -> str:
        cells = content(node) if isinstance(node, dict) else []
        return "|".join(_blocks_key(read_blocks(content(c))) for c in cells if isinstance(c, dict))

    def new_key(self, row: Any) -> str:
        return "|".join(_blocks_key(c.blocks) for c in row.cells)

    def pair(self, node: Any, row: Any) -> Any:
        from jira_console.jira.richtext.adf_patch import patch_sequence

        cells = [c for c in content(node)] if isinstance(node, dict) else []
        news = row.cells
        if len(news) > len(cells) and not _blocks_key([b for c in news[len(cells) :] for b in c.blocks]):
            news = news[: len(cells)]  # Markdown pads a row of spanning cells with empty ones
        if len(cells) != len(news) or not all(isinstance(c, dict) for c in cells):
            return NO
        out = []
        for cell, new in zip(cells, news, strict=True):
            # a cell stays a header or not as in Jira: Markdown shows header cells only in a full first row
            inner = patch_sequence(content(cell), new.blocks, self.ctx)
            out.append({**cell, "content": inner or [{"type": "paragraph", "content": []}]})
        return {**node, "content": out}

    def write(self, row: Any) -> Node:
        assert isinstance(row, TableRow)
        return {"type": "tableRow", "content": [_write_cell(cell) for cell in row.cells]}


def _blocks_key(blocks: list[Block]) -> str:
    return "\n\n".join(key(b) for b in blocks)


def _pair_children(
    old: list[Any], new: list[ListItem] | list[TableRow], ctx: Context, where: str, ops: Any
) -> list[Any] | None:
    """Old child nodes (list items, table rows) aligned with new children; None when the policy keeps the
    whole container (a child it would drop holds what Markdown cannot show)."""
    matcher = SequenceMatcher(None, [ops.key(n) for n in old], [ops.new_key(c) for c in new], autojunk=False)
    out: list[Any] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(old[i1:i2])
            continue
        paired = 0
        while tag == "replace" and paired < min(i2 - i1, j2 - j1):
            found = ops.pair(old[i1 + paired], new[j1 + paired])
            if found == NO:
                break
            out.append(found)
            paired += 1
        dropped = [label for n in old[i1 + paired : i2] for label in precious_labels(n)]
        if ctx.keep(dropped, where):
            return None
        out.extend(ops.write(c) for c in new[j1 + paired : j2])
    return out
