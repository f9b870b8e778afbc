"""Writing a changed wiki block again, with the inline constructs Markdown cannot show put back.

The old block's inlines (read with their wiki source, :mod:`.wiki_tokens`) and the new Markdown's are aligned
(:mod:`.align`); kept atoms and re-wrapped styles stand in the new content as placeholder characters while
the ordinary wiki writer renders it, and are then replaced by their wiki text. Paragraphs and headings are
written whole; lists and tables line by line and cell by cell, keeping the lines and cells that did not
change as they were.
"""

from __future__ import annotations

from jira_console.jira.richtext.align import Piece, Segment, align_inlines, shown
from jira_console.jira.richtext.patch import Context, key, snippet
from jira_console.jira.richtext.tree import (
    Block,
    Break,
    Foreign,
    ForeignInline,
    Heading,
    Inline,
    ListBlock,
    Paragraph,
    Quote,
    Table,
    TableRow,
    Text,
    plain_text,
    text_inlines,
)
from jira_console.jira.richtext.wiki_inline import parse_inline
from jira_console.jira.richtext.wiki_parse import _BQ_RE, _LIST_RE, _split_cells
from jira_console.jira.richtext.wiki_tokens import Wrap
from jira_console.jira.richtext.wiki_write import (
    _ITEM_BREAK,
    _render_block,
    escape_lines,
    escape_text,
    render_inline,
)

_PLACEHOLDER = 0xE000  # private-use characters stand in for kept wiki text while the writer renders


def precious_in(block: Block | None) -> list[str]:
    """The wiki constructs in ``block`` Markdown cannot create again, named for a message."""
    out: list[str] = []
    stack: list[object] = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, ForeignInline) and isinstance(node.source, str):
            out.append(f"{node.kind} {node.source!r}")
        elif isinstance(node, Foreign):
            out.append(f"{{{node.kind}}}")
        elif isinstance(node, Paragraph | Heading):
            stack.extend(reversed(node.content))
        elif isinstance(node, ListBlock):
            stack.extend(reversed([b for item in node.items for b in item.blocks]))
        elif isinstance(node, Table):
            stack.extend(reversed([b for row in node.rows for cell in row.cells for b in cell.blocks]))
        elif node is not None and hasattr(node, "blocks"):
            stack.extend(reversed(node.blocks))  # type: ignore[attr-defined]
    return out


def _piece(node: Inline) -> Piece:
    styled = isinstance(node, ForeignInline) and isinstance(node.source, Wrap)
    atom = not isinstance(node, Text) and not styled
    precious = ""
    if isinstance(node, ForeignInline) and isinstance(node.source, str):
        precious = f"{node.kind} {node.source!r}"
    return Piece(shown(node), [node], atom, precious)


class _Writer:
    """The new content with placeholders for wiki text written as it is."""

    def __init__(self, old: list[Inline]) -> None:
        self.old = old
        self.raw: dict[str, str] = {}
        self.nodes: list[Inline] = []

    def _hold(self, raw: str, like: Inline) -> None:
        char = chr(_PLACEHOLDER + len(self.raw))
        self.raw[char] = raw
        marks = like.marks if isinstance(like, Text | ForeignInline) else frozenset()
        link = like.link if isinstance(like, Text | ForeignInline) else None
        self.nodes.append(Text(char, marks, link))

    def add(self, segment: Segment) -> None:
        if segment.old is not None:
            node = self.old[segment.old]
            if isinstance(node, ForeignInline) and isinstance(node.source, str):
                self._hold(node.source, node)
            elif not isinstance(node, ForeignInline):
                self.nodes.append(node)
            return
        new = segment.node
        template = self.old[segment.template] if segment.template is not None else None
        if (
            isinstance(new, Text)
            and isinstance(template, ForeignInline)
            and isinstance(template.source, Wrap)
        ):
            wrap = template.source
            same = new.text == template.text and new.marks == template.marks and new.link == template.link
            core = new.text.strip()
            if same:
                self._hold(wrap.raw, new)
            elif core:  # a style never opens or closes at a space: the spaces go outside it
                lead = new.text[: len(new.text) - len(new.text.lstrip())]
                trail = new.text[len(new.text.rstrip()) :]
                self.nodes.extend(text_inlines(lead, new.marks, new.link))
                self._hold(wrap.open + escape_text(core) + wrap.close, new)
                self.nodes.extend(text_inlines(trail, new.marks, new.link))
            else:
                self.nodes.append(new)
        elif new is not None:
            self.nodes.append(new)

    def finish(self, text: str) -> str:
        for char, raw in self.raw.items():
            text = text.replace(char, raw)
        return text


def patch_inline(old: list[Inline], new: list[Inline], ctx: Context, where: str) -> _Writer | None:
    """The new content ready to render (None: the policy keeps the old block)."""
    pieces = [_piece(n) for n in old]
    segments, lost = align_inlines(pieces, new)
    if lost and ctx.keep([pieces[k].precious for k in lost], where):
        return None
    writer = _Writer(old)
    for segment in segments:
        writer.add(segment)
    return writer


def pair_block(lines: list[str], old: Block, new: Block, ctx: Context) -> list[str] | None | str:
    """``old`` (read from ``lines``) written again to say ``new``: its lines, None (kept) or "no"."""
    where = snippet(old)
    if isinstance(old, Paragraph | Heading) and isinstance(new, Paragraph | Heading):
        writer = patch_inline(old.content, new.content, ctx, where)
        if writer is None:
            return None
        shape = Heading(new.level, writer.nodes) if isinstance(new, Heading) else Paragraph(writer.nodes)
        return writer.finish(_render_block(shape) or "").split("\n")
    if isinstance(old, ListBlock) and isinstance(new, ListBlock):
        return _pair_list(lines, new, ctx, where)
    if isinstance(old, Table) and isinstance(new, Table):
        return _pair_table(lines, new, ctx, where)
    if isinstance(old, Quote) and isinstance(new, Quote):
        return _pair_quote(lines, new, ctx)
    return "no"


def _pair_quote(lines: list[str], new: Quote, ctx: Context) -> list[str] | None | str:
    """``bq. text`` or ``{quote}...{quote}``: the text inside patched like a document of its own."""
    from jira_console.jira.richtext.wiki_patch import patch_wiki

    text = "\n".join(lines)
    single = _BQ_RE.match(text) if len(lines) == 1 else None
    if single is not None:
        body = single.group(1) or ""
        patched = patch_wiki(body, new.blocks, ctx)
        if patched is body:
            return lines
        if "\n" not in patched:
            return [text[: single.start(1)] + patched if single.start(1) >= 0 else "bq. " + patched]
        return ["{quote}", *patched.split("\n"), "{quote}"]
    stripped = text.strip()
    if not (stripped.startswith("{quote}") and stripped.endswith("{quote}")) or len(stripped) < 14:
        return "no"
    start, end = text.index("{quote}") + 7, text.rindex("{quote}")
    body = text[start:end]
    lead = "\n" if body.startswith("\n") else ""
    trail = "\n" if body.endswith("\n") and len(body) > len(lead) else ""
    core = body[len(lead) : len(body) - len(trail)]
    patched = patch_wiki(core, new.blocks, ctx)
    return (text[:start] + lead + patched + trail + text[end:]).split("\n")


def _one_line(old_src: str, new_blocks: list[Block], ctx: Context, where: str) -> str | None:
    """A list item's or table cell's text written again (None: kept by the policy)."""
    new: list[Inline] = []
    for block in new_blocks:
        if new:
            new.append(Break())
        new.extend(block.content if isinstance(block, Paragraph | Heading) else [Text(plain_text(block))])
    writer = patch_inline(parse_inline(old_src.strip()), new, ctx, where)
    if writer is None:
        return None
    return writer.finish(escape_lines([render_inline(writer.nodes, _ITEM_BREAK)], ""))


def _flat_items(block: ListBlock, prefix: str = "") -> list[tuple[str, list[Block]]]:
    marker = prefix + ("#" if block.ordered else "*")
    out: list[tuple[str, list[Block]]] = []
    for item in block.items:
        out.append((marker, [b for b in item.blocks if not isinstance(b, ListBlock)]))
        for child in item.blocks:
            if isinstance(child, ListBlock):
                out.extend(_flat_items(child, marker))
    return out


def _pair_list(lines: list[str], new: ListBlock, ctx: Context, where: str) -> list[str] | None | str:
    items = _flat_items(new)
    if len(items) != len(lines):
        return "no"
    out: list[str] = []
    for line, (marker, blocks) in zip(lines, items, strict=True):
        found = _LIST_RE.match(line)
        if found is None or ("*" if found.group(1) == "-" else found.group(1)) != marker:
            return "no"
        old_blocks = [Paragraph(parse_inline(found.group(2).strip()))]
        if [key(b) for b in old_blocks if key(b)] == [key(b) for b in blocks if key(b)]:
            out.append(line)
            continue
        text = _one_line(found.group(2), blocks, ctx, where)
        if text is None:
            return None
        out.append(line[: found.start(2)] + text)
    return out


def _pair_table(lines: list[str], new: Table, ctx: Context, where: str) -> list[str] | None | str:
    if len(lines) != len(new.rows):
        return "no"
    out: list[str] = []
    for line, row in zip(lines, new.rows, strict=True):
        found = _pair_row(line, row, ctx, where)
        if found is None or found == "no":
            return found
        out.append(found)
    return out


def _pair_row(line: str, row: TableRow, ctx: Context, where: str) -> str | None:
    cells = _split_cells(line)
    if len(cells) != len(row.cells):
        return "no"
    parts: list[str] = []
    changed = False
    for (header, src), cell in zip(cells, row.cells, strict=True):
        delimiter = "||" if cell.header else "|"
        old_key = key(Paragraph(parse_inline(src.strip())))
        if old_key == "\n\n".join(key(b) for b in cell.blocks if key(b)) and header == cell.header:
            parts.append(("||" if header else "|") + src)
            continue
        text = _one_line(src, cell.blocks, ctx, where)
        if text is None:
            return None
        lead, trail = src[: len(src) - len(src.lstrip())], src[len(src.rstrip()) :]
        parts.append(delimiter + lead + (text or " ") + trail)
        changed = True
    if not changed:
        return line
    closing = ("||" if row.cells[-1].header else "|") if line.rstrip().endswith("|") else ""
    return "".join(parts) + closing
