"""Edit-preserving writes for Jira Cloud: a local Markdown change applied to the previous ADF document.

See :mod:`.patch` for the method. Here, a unit is an ADF node: a Markdown block (paragraph, heading, code
block, list, table, quote, rule), the inline content of a task or decision item, an expand's title, or a
construct shown only as its text (media, cards, extensions). Panels, expands, task and decision lists,
layouts and bodied extensions are transparent. A document is rebuilt sharing every untouched node with the
previous one; only changed branches are copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jira_console.jira.richtext.adf_inline import patch_inline_nodes, precious_labels
from jira_console.jira.richtext.adf_read import adf_plain_text, content, read_blocks, read_inlines
from jira_console.jira.richtext.adf_write import doc, write_blocks
from jira_console.jira.richtext.patch import Context, Unit, apply_plan, key, plan, snippet, title_text
from jira_console.jira.richtext.tree import (
    Block,
    CodeBlock,
    Heading,
    Paragraph,
    Rule,
    text_inlines,
)

Node = dict[str, Any]

MARKDOWN_BLOCKS = frozenset({
    "paragraph", "heading", "codeBlock", "blockquote", "rule", "bulletList", "orderedList", "table",
})  # fmt: skip
#: Containers whose children are blocks or items of their own: their inner blocks are units.
TRANSPARENT = frozenset({"panel", "layoutSection", "layoutColumn", "bodiedExtension", "taskList",
                         "decisionList", "expand", "nestedExpand"})  # fmt: skip
#: Containers that hold blocks, where new blocks may be inserted.
HOLDS_BLOCKS = frozenset({"doc", "panel", "layoutColumn", "bodiedExtension", "expand", "nestedExpand"})
INLINE_HOLDERS = frozenset({"taskItem", "decisionItem", "blockTaskItem"})


@dataclass
class _Ref:
    node: Node
    role: str
    """``block`` (a Markdown block), ``inline`` (an item's inline content), ``title`` or ``opaque``."""
    path: list[Node]
    """The containers from the top level down to the node itself (the node last)."""


def patch_adf(previous: Node, blocks: list[Block], ctx: Context) -> Node | None:
    """``previous`` (an ADF doc) changed to say what ``blocks`` say, keeping what Markdown cannot show."""
    nodes = [n for n in content(previous)]
    patched = _Seq(nodes, ctx).patch(blocks)
    if not patched:
        return None
    if len(patched) == len(nodes) and all(a is b for a, b in zip(patched, nodes, strict=True)):
        return previous
    return {**previous, "content": patched} if previous.get("type") == "doc" else doc(patched)


class _Seq:
    """The units of one block sequence (a document, a list item, a table cell, a quote)."""

    def __init__(self, nodes: list[Any], ctx: Context) -> None:
        self.nodes = nodes
        self.ctx = ctx
        self.units: list[Unit] = []
        self.replace: dict[int, list[Node]] = {}  # id(node) -> what stands in its place
        self.titles: dict[int, str] = {}  # id(expand) -> new title
        self.after: dict[int, list[Node]] = {}
        self.before: dict[int, list[Node]] = {}
        self.tail: list[Node] = []
        self._flatten(nodes, [])

    # ---- units ---------------------------------------------------------------------------------------

    def _unit(self, block: Block, node: Node, role: str, path: list[Node]) -> None:
        unit_key = key(block)
        if not unit_key:
            return  # Markdown shows nothing for it: it is kept where it is
        precious = precious_labels(node) if role != "title" else []
        self.units.append(Unit(unit_key, block, _Ref(node, role, path), precious))

    def _flatten(self, nodes: list[Any], path: list[Node]) -> None:
        for node in nodes:
            if not isinstance(node, dict):
                continue
            kind = node.get("type")
            here = [*path, node]
            children = content(node)
            if kind in MARKDOWN_BLOCKS:
                found = read_blocks([node])
                if found:
                    self._unit(found[0], node, "block", here)
            elif kind in INLINE_HOLDERS or (
                kind not in TRANSPARENT and children and not any(_is_block(c) for c in children)
            ):
                self._unit(Paragraph(read_inlines(children)), node, "inline", here)
            elif kind in TRANSPARENT or children:
                if kind in ("expand", "nestedExpand"):
                    title = str(_attrs(node).get("title") or "")
                    self._unit(Paragraph(text_inlines(title)), node, "title", here)
                self._flatten(children, here)
            else:
                self._unit(Paragraph(text_inlines(adf_plain_text(node))), node, "opaque", here)

    # ---- the plan ------------------------------------------------------------------------------------

    def patch(self, blocks: list[Block]) -> list[Any]:
        apply_plan(plan(self.units, blocks), self)
        return self._rebuild(self.nodes)

    def ref(self, unit: int) -> _Ref:
        found: _Ref = self.units[unit].ref
        return found

    def pair(self, unit: int, block: Block) -> str:
        ref = self.ref(unit)
        where = snippet(self.units[unit].block)
        if ref.role == "title":
            title = title_text(block)
            if title is None:
                return "no"
            self.titles[id(ref.node)] = title
            return "patched"
        if ref.role == "opaque":
            return "no"
        if ref.role == "inline":
            if not isinstance(block, Paragraph):
                return "no"
            inlines = patch_inline_nodes(content(ref.node), block.content, self.ctx, where)
            return self._set(ref.node, None if inlines is None else [{**ref.node, "content": inlines}])
        return self._set(ref.node, self._pair_block(ref.node, block, where))

    def _set(self, node: Node, replacement: list[Node] | None | str) -> str:
        if replacement is None:
            return "kept"
        if isinstance(replacement, str):
            return replacement  # NO: replace instead
        self.replace[id(node)] = replacement
        return "patched"

    def _pair_block(self, node: Node, block: Block, where: str) -> list[Node] | None | str:
        kind = node.get("type")
        if isinstance(block, Paragraph | Heading) and kind in ("paragraph", "heading"):
            inlines = patch_inline_nodes(content(node), block.content, self.ctx, where)
            if inlines is None:
                return None
            fresh = write_blocks([block], "doc")[0]
            if fresh.get("type") == kind and fresh.get("attrs") == node.get("attrs"):
                fresh = node  # same kind and level: the node keeps its other attributes and marks
            return [{**fresh, "content": inlines}]
        if isinstance(block, CodeBlock) and kind == "codeBlock":
            attrs = dict(_attrs(node))
            if block.language != str(attrs.get("language") or ""):
                attrs["language"] = block.language
            changed = {**node, "content": [{"type": "text", "text": block.text}] if block.text else []}
            return [{**changed, "attrs": attrs} if attrs or "attrs" in node else changed]
        if isinstance(block, Rule):
            return [node]
        from jira_console.jira.richtext.adf_containers import pair_container

        return pair_container(node, block, self.ctx, where)

    def delete(self, unit: int) -> bool:
        ref = self.ref(unit)
        if self.ctx.keep(self.units[unit].precious, snippet(self.units[unit].block)):
            return False
        if ref.role == "title":
            self.titles[id(ref.node)] = ""
        else:
            self.replace[id(ref.node)] = []
        return True

    def insert(self, after: int, blocks: list[Block]) -> None:
        nodes = write_blocks(blocks, "doc")
        if not self.units:
            self.tail.extend(nodes)
        elif after < 0:
            self.before.setdefault(id(self.ref(0).path[0]), []).extend(nodes)
        else:
            where, target = self._insert_point(after)
            (self.after if where == "after" else self.before).setdefault(id(target), []).extend(nodes)

    def _insert_point(self, after: int) -> tuple[str, Node]:
        """Where blocks following unit ``after`` go, so that they stay before the next unit: after the
        outermost ancestor of the unit that does not hold the next unit and sits in a container of blocks
        (inside a panel only when the next unit is in it too; at the top level when no unit follows)."""
        path = self.ref(after).path
        following = self.ref(after + 1).path if after + 1 < len(self.units) else []
        if len(following) > len(path) and all(a is b for a, b in zip(path, following, strict=False)):
            return "before", following[len(path)]  # after an expand's title: first in its body
        level = 0
        while level < len(path) - 1 and level < len(following) and path[level] is following[level]:
            level += 1
        while level < len(path) - 1 and level and path[level - 1].get("type") not in HOLDS_BLOCKS:
            level += 1  # between two columns of a layout, say: stay in the first one
        return "after", path[level]

    # ---- rebuilding ----------------------------------------------------------------------------------

    def _rebuild(self, nodes: list[Any]) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            out.extend(self.before.pop(id(node), []))
            if not isinstance(node, dict):
                out.append(node)
                continue
            if id(node) in self.replace:
                out.extend(self.replace[id(node)])
            elif node.get("type") not in MARKDOWN_BLOCKS and content(node) and id(node) not in self.replace:
                out.extend(self._rebuild_container(node))
            else:
                out.extend(self._titled(node))
            out.extend(self.after.pop(id(node), []))
        if self.tail and nodes is self.nodes:
            out.extend(self.tail)
        return out

    def _titled(self, node: Node, original: Node | None = None) -> list[Node]:
        """``node`` with the new title of ``original`` (the node it was rebuilt from), if it got one."""
        title = self.titles.get(id(original if original is not None else node))
        if title is None:
            return [node]
        return [{**node, "attrs": {**_attrs(node), "title": title}}]

    def _rebuild_container(self, node: Node) -> list[Node]:
        children = content(node)
        rebuilt = self._rebuild(children)
        same = len(rebuilt) == len(children) and all(a is b for a, b in zip(rebuilt, children, strict=True))
        if same:
            return self._titled(node)
        if not any(isinstance(c, dict) for c in rebuilt):
            # everything it held was deleted locally: the frame would go too
            if self.ctx.keep([str(node.get("type"))], snippet(Paragraph(text_inlines(adf_plain_text(node))))):
                return [node]
            titled = self._titled(node)[0]  # (``node`` is the original here)
            if _attrs(titled).get("title"):  # an expand whose title stays: an empty body (ADF needs one)
                return [{**titled, "content": [{"type": "paragraph", "content": []}]}]
            return []
        return self._titled({**node, "content": rebuilt}, node)


def _attrs(node: Node) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _is_block(node: Any) -> bool:
    from jira_console.jira.richtext.adf_read import BLOCK_TYPES

    return isinstance(node, dict) and node.get("type") in BLOCK_TYPES


def patch_sequence(nodes: list[Any], blocks: list[Block], ctx: Context) -> list[Any]:
    """A block sequence inside a list item, a table cell or a quote, patched (see :class:`_Seq`)."""
    return _Seq(nodes, ctx).patch(blocks)
