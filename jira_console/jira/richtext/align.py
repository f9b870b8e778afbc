"""Aligning the old and new inline content of one block, so an edit keeps what Markdown could not show.

The local Markdown shows a Jira inline construct Markdown has no syntax for (a status lozenge, a date, an
underlined or coloured run, a wiki image) as plain text. When the block is edited, its old and new *shown*
text are aligned character by character (:class:`difflib.SequenceMatcher`); then

* an old **atom** (status, date, card, wiki image, emoticon, ...) whose characters all survive unchanged, in
  one piece, is put back as it was (its ``source``, byte for byte);
* an old **run of text** lends its extra styling (underline, colour, sub/superscript, a wiki ``+u+`` wrapper)
  to every new character between where its start and its end moved to -- so a word changed inside an
  underlined run is still underlined;
* everything else is the new Markdown's own content.

:func:`align_inlines` returns the new content as :class:`Segment` s for a format's writer, and which precious
old atoms could not be kept (for the caller to decide: keep the old block, or let Markdown win).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from jira_console.jira.richtext.tree import Emoji, ForeignInline, Inline, Link, Mention, Text


@dataclass
class Piece:
    """One old inline node as the aligner sees it."""

    shown: str
    """What the local Markdown shows for it."""
    tree: list[Inline]
    """Its reading as tree inlines (to check the new text still says the same)."""
    atom: bool
    """Kept whole or not at all (a text run instead lends its styling to whatever replaced it)."""
    precious: str = ""
    """Non-empty for constructs Markdown cannot create (the label for a message when one is lost)."""


@dataclass
class Segment:
    """One piece of the patched content: an old piece kept (``old``), a new atom (``node``) or new text
    (``node`` a :class:`Text`) styled like old piece ``template`` (None: the Markdown's own styling)."""

    old: int | None = None
    node: Inline | None = None
    template: int | None = None


def shown(node: Inline) -> str:
    """What Markdown shows for a tree inline (one character per character of the local text)."""
    if isinstance(node, Text | ForeignInline | Mention):
        return node.text
    if isinstance(node, Emoji):
        return node.short_name
    return "\n"


def _signature(nodes: list[Inline]) -> list[tuple[object, ...]]:
    """What must be equal for an old atom to be kept where the new content has these nodes: text and link
    of text-like nodes (joined), and every other node itself."""
    out: list[tuple[object, ...]] = []
    for node in nodes:
        if isinstance(node, Text | ForeignInline):
            link = node.link
            if out and out[-1][0] == "t" and out[-1][2] == link:
                out[-1] = ("t", str(out[-1][1]) + node.text, link)
            else:
                out.append(("t", node.text, link))
        elif isinstance(node, Mention):
            out.append(("m", node.text, node.account_id, node.username))
        elif isinstance(node, Emoji):
            out.append(("e", node.short_name))
        else:
            out.append(("b",))
    return out


class _Aligner:
    def __init__(self, old: list[Piece], new: list[Inline]) -> None:
        self.old = old
        self.new = new
        self.old_text = "".join(p.shown for p in old)
        self.new_text = "".join(shown(n) for n in new)
        self.owner: list[tuple[int, int]] = []  # new char -> (node index, offset in it)
        for j, node in enumerate(new):
            self.owner.extend((j, k) for k in range(len(shown(node))))
        n_old = len(self.old_text)
        self.char_map = [-1] * n_old
        self.lo = [len(self.new_text)] * (n_old + 1)  # where an old boundary moved to: earliest, latest
        self.hi = [0] * (n_old + 1)
        matcher = SequenceMatcher(None, self.old_text, self.new_text, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for p in range(i1, i2 + 1):
                if tag == "equal":
                    if p < i2:
                        self.char_map[p] = j1 + p - i1
                    first = last = j1 + p - i1
                else:
                    first = j2 if p == i2 and p > i1 else j1
                    last = j1 if p == i1 and p < i2 else j2
                self.lo[p] = min(self.lo[p], first)
                self.hi[p] = max(self.hi[p], last)
        self.claim: list[tuple[str, int] | None] = [None] * len(self.new_text)
        self.anchors: dict[int, list[int]] = {}

    def _new_slice(self, start: int, end: int) -> list[Inline]:
        """The new inline content covering characters [start, end) (texts cut to the range)."""
        out: list[Inline] = []
        pos = 0
        for node in self.new:
            size = len(shown(node))
            a, b = max(start, pos), min(end, pos + size)
            if a < b:
                if isinstance(node, Text) and (a > pos or b < pos + size):
                    out.append(Text(node.text[a - pos : b - pos], node.marks, node.link))
                elif a == pos and b == pos + size or isinstance(node, Text):
                    out.append(node)
                else:
                    return []  # an atom cut in two: no match
            pos += size
        return out

    def keep_atoms(self) -> list[int]:
        """Claim the new characters of every old atom that survived; the precious ones that did not."""
        lost: list[int] = []
        start = 0
        for k, piece in enumerate(self.old):
            a, b = start, start + len(piece.shown)
            start = b
            if not piece.atom:
                continue
            if a == b:
                self.anchors.setdefault(self.lo[a], []).append(k)  # shows nothing: always kept in place
                continue
            mapped = self.char_map[a:b]
            na = mapped[0]
            whole = na >= 0 and all(m == na + i for i, m in enumerate(mapped))
            if whole and all(c is None for c in self.claim[na : na + b - a]):
                if _signature(self._new_slice(na, na + b - a)) == _signature(piece.tree):
                    for i in range(na, na + b - a):
                        self.claim[i] = ("old", k)
                    continue
            if piece.precious:
                lost.append(k)
        return lost

    def lend_styles(self) -> None:
        """Give each unclaimed new character the old text run whose moved span holds it (first run wins)."""
        start = 0
        for k, piece in enumerate(self.old):
            a, b = start, start + len(piece.shown)
            start = b
            if piece.atom or a == b:
                continue
            for i in range(self.lo[a], self.hi[b]):
                if self.claim[i] is None:
                    self.claim[i] = ("run", k)

    def segments(self) -> list[Segment]:
        out: list[Segment] = []
        emitted: set[int] = set()
        pos = 0
        for node in self.new:
            size = len(shown(node))
            self._anchored(pos, out)
            if not isinstance(node, Text):
                claim = self.claim[pos] if size else None
                if claim is not None and claim[0] == "old":
                    if claim[1] not in emitted:
                        emitted.add(claim[1])
                        out.append(Segment(old=claim[1]))
                else:
                    out.append(Segment(node=node))
                pos += size
                continue
            self._text_segments(node, pos, out, emitted)
            pos += size
        self._anchored(pos, out)
        return out

    def _anchored(self, pos: int, out: list[Segment]) -> None:
        for k in self.anchors.pop(pos, []):
            out.append(Segment(old=k))

    def _text_segments(self, node: Text, pos: int, out: list[Segment], emitted: set[int]) -> None:
        """Cut a new text where its claims change (and where an invisible old atom sits inside it)."""
        size = len(node.text)
        run_start = 0
        current = self.claim[pos] if size else None
        for i in range(1, size + 1):
            claim = self.claim[pos + i] if i < size else None
            if i < size and claim == current and pos + i not in self.anchors:
                continue
            if current is not None and current[0] == "old":
                if current[1] not in emitted:
                    emitted.add(current[1])
                    out.append(Segment(old=current[1]))
            else:
                template = current[1] if current is not None else None
                out.append(
                    Segment(node=Text(node.text[run_start:i], node.marks, node.link), template=template)
                )
            if i < size:
                self._anchored(pos + i, out)
            run_start, current = i, claim


def align_inlines(old: list[Piece], new: list[Inline]) -> tuple[list[Segment], list[int]]:
    """The new content as segments (see the module docstring) and the precious old pieces it loses."""
    aligner = _Aligner(old, new)
    lost = aligner.keep_atoms()
    aligner.lend_styles()
    return aligner.segments(), lost


def link_of(node: Inline) -> Link | None:
    return node.link if isinstance(node, Text | ForeignInline) else None
