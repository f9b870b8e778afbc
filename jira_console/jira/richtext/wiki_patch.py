"""Edit-preserving writes for Jira Server/DC: a local Markdown change applied to the previous wiki markup.

See :mod:`.patch` for the method. Here a unit is a wiki block and the lines it was read from; panel macros
(``{panel}``, ``{info}``, ``{note}``, ``{warning}``, ``{tip}``) are transparent, their body patched like a
document and their tags kept as written. Unchanged blocks keep their lines byte for byte (and the blank
lines between them); a changed paragraph, heading, list item or table cell is written again with the wiki
constructs Markdown cannot show (:mod:`.wiki_tokens`) put back as Jira syntax (:mod:`.wiki_segments`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jira_console.jira.richtext.patch import Context, Unit, apply_plan, key, plan, snippet, title_text
from jira_console.jira.richtext.tree import Block, Foreign, Paragraph
from jira_console.jira.richtext.wiki_parse import _BLOCK_MACRO_RE, split_wiki
from jira_console.jira.richtext.wiki_segments import pair_block, precious_in
from jira_console.jira.richtext.wiki_write import render_wiki

_OPENING_RE = re.compile(r"(\{[a-z]+)(?::([^}]*))?\}")


class _Fallback(Exception):
    """The document cannot be cut into blocks that own whole lines."""


@dataclass
class _Seq:
    """One block sequence: the document or a panel's body."""

    lines: list[str]
    blocks: list[Block]
    spans: list[tuple[int, int]]
    replace: dict[int, list[str]] = field(default_factory=dict)
    after: dict[int, list[str]] = field(default_factory=dict)
    before: list[str] = field(default_factory=list)
    bodies: dict[int, tuple[_Seq, str, str]] = field(default_factory=dict)
    """Panels: block index -> (body sequence, text before it, text after it)."""
    retitled: set[int] = field(default_factory=set)
    parent: tuple[_Seq, int] | None = None
    """For a panel's body: the sequence holding the panel, and its index there."""


@dataclass
class _Ref:
    seq: _Seq
    index: int
    role: str  # "block" or "title"


def patch_wiki(previous: str, blocks: list[Block], ctx: Context) -> str:
    """``previous`` wiki markup changed to say what ``blocks`` say, keeping what Markdown cannot show."""
    crlf = "\r\n" in previous
    text = previous.replace("\r\n", "\n").replace("\r", "\n")
    try:
        patcher = _Patcher(text.split("\n"), ctx)
    except _Fallback:
        return _whole(previous, blocks, ctx)
    apply_plan(plan(patcher.units, blocks), patcher)
    out = "\n".join(patcher.rebuild(patcher.top))
    if out == text:
        return previous
    return out.replace("\n", "\r\n") if crlf else out


def _whole(previous: str, blocks: list[Block], ctx: Context) -> str:
    from jira_console.jira.richtext.wiki_parse import parse_wiki

    old = parse_wiki(previous)
    lost = [label for block in old for label in precious_in(block)]
    if ctx.keep(lost, snippet(old[0]) if old else ""):
        return previous
    return render_wiki(blocks)


class _Patcher:
    def __init__(self, lines: list[str], ctx: Context) -> None:
        self.ctx = ctx
        self.units: list[Unit] = []
        self.top = self._seq(lines)

    def _seq(self, lines: list[str], parent: tuple[_Seq, int] | None = None) -> _Seq:
        split = split_wiki(lines)
        if split is None or len({span for span in split[1]}) != len(split[1]):
            raise _Fallback
        seq = _Seq(lines, *split, parent=parent)
        for index, block in enumerate(seq.blocks):
            if isinstance(block, Foreign) and isinstance(block.source, str):
                self._panel(seq, index, block)
            else:
                self._unit(block, _Ref(seq, index, "block"), precious_in(block))
        return seq

    def _unit(self, block: Block, ref: _Ref, precious: list[str]) -> None:
        unit_key = key(block)
        if unit_key:
            self.units.append(Unit(unit_key, block, ref, precious))

    def _panel(self, seq: _Seq, index: int, block: Foreign) -> None:
        start, end = seq.spans[index]
        text = "\n".join(seq.lines[start:end])
        opening = _BLOCK_MACRO_RE.search(text)
        closing = text.rfind("{" + block.kind + "}")
        if opening is None or closing < opening.end():
            raise _Fallback
        body = text[opening.end() : closing]
        lead = "\n" if body.startswith("\n") else ""
        trail = "\n" if body.endswith("\n") and len(body) > len(lead) else ""
        core = body[len(lead) : len(body) - len(trail)]
        if block.blocks and isinstance(block.blocks[0], Paragraph) and "title=" in (opening.group(2) or ""):
            self._unit(block.blocks[0], _Ref(seq, index, "title"), [f"{{{block.kind}}} title"])
        body_seq = self._seq(core.split("\n"), (seq, index))
        seq.bodies[index] = (body_seq, text[: opening.end()] + lead, trail + text[closing:])

    # ---- the plan (see patch.Backend) ----------------------------------------------------------------

    def pair(self, unit: int, block: Block) -> str:
        ref: _Ref = self.units[unit].ref
        if ref.role == "title":
            return self._retitle(ref, block)
        start, end = ref.seq.spans[ref.index]
        found = pair_block(ref.seq.lines[start:end], ref.seq.blocks[ref.index], block, self.ctx)
        if found is None or isinstance(found, str):
            return "kept" if found is None else found
        ref.seq.replace[ref.index] = found
        return "patched"

    def _retitle(self, ref: _Ref, block: Block | None) -> str:
        """A panel's new title written into its opening tag (None: the title parameter removed)."""
        body, head, tail = ref.seq.bodies[ref.index]
        found = _OPENING_RE.match(head)
        title = title_text(block)
        if found is None or (block is not None and (title is None or re.search(r"[|{}]", title))):
            return "no"
        params = [p for p in (found.group(2) or "").split("|") if p and not p.strip().startswith("title=")]
        if title is not None:
            params.insert(0, "title=" + title.strip())
        opening = found.group(1) + (":" + "|".join(params) if params else "") + "}"
        ref.seq.bodies[ref.index] = (body, opening + head[found.end() :], tail)
        ref.seq.retitled.add(ref.index)
        return "patched"

    def delete(self, unit: int) -> bool:
        ref: _Ref = self.units[unit].ref
        if self.ctx.keep(self.units[unit].precious, snippet(self.units[unit].block)):
            return False
        if ref.role == "block":
            ref.seq.replace[ref.index] = []
        else:
            self._retitle(ref, None)
        return True

    def insert(self, after: int, blocks: list[Block]) -> None:
        text = render_wiki(blocks)
        if not text:
            return
        if after < 0 or not self.units:
            self.top.before.append(text)
            return
        ref: _Ref = self.units[after].ref
        if ref.role == "title":
            ref.seq.bodies[ref.index][0].before.append(text)
            return
        # inside a panel only when the next block is in it too (else after the panel, as on Cloud)
        following = self.units[after + 1].ref.seq if after + 1 < len(self.units) else None
        seq, index = ref.seq, ref.index
        while seq is not following and seq.parent is not None:
            seq, index = seq.parent
        seq.after.setdefault(index, []).append(text)

    # ---- rebuilding ----------------------------------------------------------------------------------

    def rebuild(self, seq: _Seq) -> list[str]:
        if not seq.spans:
            return [*seq.lines, *(line for text in seq.before for line in ["", *text.split("\n")])]
        out = list(seq.lines[: seq.spans[0][0]])
        for text in seq.before:
            out.extend([*text.split("\n"), ""])
        for k, (start, end) in enumerate(seq.spans):
            block = self._block_lines(seq, k, start, end)
            out.extend(block)
            gap_end = seq.spans[k + 1][0] if k + 1 < len(seq.spans) else len(seq.lines)
            gap = seq.lines[end:gap_end]
            for text in seq.after.get(k, []):
                out.extend(["", *text.split("\n")] if out else text.split("\n"))
            if seq.after.get(k) and (not gap or gap[0].strip()):
                out.append("")
            if block or seq.after.get(k) or (out and out[-1].strip()):
                out.extend(gap)  # a deleted block's blank lines go with it
        while out and not out[-1].strip() and _trailing_blank(out) > _trailing_blank(seq.lines):
            out.pop()
        return out

    def _block_lines(self, seq: _Seq, k: int, start: int, end: int) -> list[str]:
        if k in seq.replace:
            return seq.replace[k]
        if k not in seq.bodies:
            return seq.lines[start:end]
        body, head, tail = seq.bodies[k]
        inner = self.rebuild(body)
        if inner == body.lines and k not in seq.retitled:
            return seq.lines[start:end]
        if not any(line.strip() for line in inner) and self.ctx.keep(
            [f"{{{_kind(seq.blocks[k])}}}"], snippet(seq.blocks[k])
        ):
            return seq.lines[start:end]
        if not any(line.strip() for line in inner) and "title=" not in head:
            return []  # (a panel whose title stays keeps its frame, with an empty body)
        return (head + "\n".join(inner) + tail).split("\n")


def _trailing_blank(lines: list[str]) -> int:
    count = 0
    while count < len(lines) and not lines[-1 - count].strip():
        count += 1
    return count


def _kind(block: Block) -> str:
    return block.kind if isinstance(block, Foreign) else type(block).__name__
