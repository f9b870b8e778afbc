"""Writing inline content as canonical Markdown that markdown-it-py parses back to the same nodes.

Canonical inline Markdown uses ``**strong**``, ``_em_`` (``*em*`` inside words), ``~~strike~~``, `` `code` ``,
``[text](url "title")``, ``@[Name](accountid:ID)`` for mentions and ``:shortName:`` for emoji. Hard breaks
come out as ``\\n`` for the block writer to encode per context.

CommonMark only opens a delimiter run that is left-flanking and closes one that is right-flanking; where the
character next to a run would prevent that (``a**(b)**c``), that character is written as a character
reference, which the parser reads as punctuation: ``&#97;**(b)**&#99;`` reads back as the same text.
Where several delimiters meet (emphasis changing between two runs), CommonMark may pair them otherwise than
meant: such content is parsed back, and written span by span (:mod:`.md_spans`) if it reads differently.
"""

from __future__ import annotations

from jira_console.jira.richtext.md_parse import parse_inline_markdown
from jira_console.jira.richtext.md_spans import write_spans
from jira_console.jira.richtext.md_text import (
    OTHER,
    PUNCT,
    char_class,
    code_span,
    escape_text,
    link_destination,
    link_title,
    odd_backslashes,
    protect_edge_space,
    reference_first,
    reference_last,
    render_mention,
)
from jira_console.jira.richtext.runs import link_groups
from jira_console.jira.richtext.syntax import protect_edge_whitespace
from jira_console.jira.richtext.tree import (
    CODE,
    EM,
    EMPHASIS,
    Break,
    Emoji,
    Inline,
    Link,
    Mention,
    Text,
    merge_text,
)

_DELIM = {"strong": "**", "em": "*", "strike": "~~"}


def render_inline(nodes: list[Inline]) -> str:
    """Inline nodes as Markdown; hard breaks come out as '\\n' for the caller to encode per context.

    Where delimiters of changing emphasis meet, the result is parsed back; if it does not read as the same
    runs, the content is written span by span instead (:mod:`.md_spans`).
    """
    groups = link_groups(nodes)
    writers = [_GroupWriter(group) for _, group in groups]
    written = _join(groups, [writer.write() for writer in writers])
    if any(writer.risky for writer in writers) and not _reads_back(written, groups):
        written = _join(groups, [write_spans(group) for _, group in groups])
    return written


def _reads_back(written: str, groups: list[tuple[Link | None, list[Inline]]]) -> bool:
    lines = "\n".join(protect_edge_whitespace(line) for line in written.split("\n"))
    expected = merge_text(item for _, group in groups for item in group)
    return _signature(parse_inline_markdown(lines)) == _signature(expected)


def _signature(nodes: list[Inline]) -> list[object]:
    """What emphasis writing must preserve: texts with their marks and links, and where the atoms are."""
    out: list[object] = []
    for node in nodes:
        if isinstance(node, Text):
            out.append((node.text, node.marks, node.link))
        else:
            out.append(type(node).__name__)
    while out and out[-1] == "Break":
        out.pop()
    return out


def _join(groups: list[tuple[Link | None, list[Inline]]], inners: list[str]) -> str:
    out: list[str] = []
    for (link, _), inner in zip(groups, inners, strict=True):
        if link is None:
            out.append(inner)
            continue
        if out and out[-1].endswith("@") and not odd_backslashes(out[-1][:-1]):
            out[-1] = out[-1][:-1] + "\\@"  # '@' right before a link would make it a mention
        out.append(f"[{inner}]({link_destination(link.href)}{link_title(link)})")
    return "".join(out)


class _GroupWriter:
    """Emphasis opened and closed as a stack over one link group's items, longest run outermost."""

    def __init__(self, items: list[Inline]) -> None:
        self.items = items
        self.out: list[str] = []
        self.stack: list[tuple[str, str]] = []  # (mark, delimiter written), outermost first
        self.risky = False  # delimiters of changing emphasis met: CommonMark may pair them otherwise

    def write(self) -> str:
        for k, item in enumerate(self.items):
            if type(item) is Text:
                self._text(k, item)
                continue
            # an atom between runs: close what the next text does not continue, so no closer lands at
            # the start of the next line or after a mention
            later = self._later_marks(k) if type(item) is not Break else frozenset()
            self._close_from(self._first_unneeded(later))
            if type(item) is Break:
                self.out.append("\n")
            elif type(item) is Emoji:
                self.out.append(item.short_name)
            elif type(item) is Mention:
                self.out.append(render_mention(item))
        self._close_from(0)
        return "".join(self.out)

    def _text(self, k: int, item: Text) -> None:
        need = item.marks - {CODE} if item.marks else item.marks
        closed_after = self._close_from(self._first_unneeded(need))
        text = code_span(item.text) if CODE in item.marks else escape_text(item.text)
        if need:
            text = protect_edge_space(text)
        open_marks = {mark for mark, _ in self.stack}
        opening = [m for m in EMPHASIS if m in need and m not in open_marks]
        if len(opening) > 1:
            opening.sort(key=lambda m: (-self._run_end(m, k), EMPHASIS.index(m)))
        if opening:
            before = self._last_char()
            delims: list[str] = []
            for mark in opening:
                delims.append(self._delimiter(mark, k, delims[-1][-1] if delims else before))
            if char_class(before) == OTHER and (len(delims) > 1 or char_class(text[0]) != OTHER):
                self._encode_last_char()  # after a letter a run opens only before a letter: hide the letter
            self.risky = self.risky or closed_after is not None or (len(delims) > 1 and _touching(delims))
            self.out.extend(delims)
            self.stack.extend(zip(opening, delims, strict=True))
        elif closed_after is not None and char_class(closed_after) == PUNCT and char_class(text[0]) == OTHER:
            text = reference_first(text)  # a closer after punctuation must not touch a letter
            self.risky = True
        self.out.append(text)

    def _delimiter(self, mark: str, k: int, before: str) -> str:
        """``_`` for emphasis between non-letters (it never merges with ``**``), else ``*``."""
        if mark != EM or char_class(before) == OTHER:
            return _DELIM[mark]
        after = self._run_end(mark, k) + 1
        follower = self.items[after] if after < len(self.items) else None
        after_char = follower.text[:1] if type(follower) is Text else ""
        return "*" if char_class(after_char) == OTHER else "_"

    def _last_char(self) -> str:
        for piece in reversed(self.out):
            if piece:
                return piece[-1]
        return ""

    def _encode_last_char(self) -> None:
        self.risky = True  # the character may be what an earlier delimiter needed to see
        for i in range(len(self.out) - 1, -1, -1):
            piece = self.out[i]
            if piece:
                self.out[i] = reference_last(piece)
                return

    def _first_unneeded(self, need: frozenset[str]) -> int:
        for depth, (mark, _) in enumerate(self.stack):
            if mark not in need:
                return depth
        return len(self.stack)

    def _close_from(self, cut: int) -> str | None:
        """Close the marks from depth ``cut`` on; what the last closer follows (None: nothing closed)."""
        if cut >= len(self.stack):
            return None
        before = self._last_char()
        closers = [delim for _, delim in reversed(self.stack[cut:])]
        self.risky = self.risky or (len(closers) > 1 and _touching(closers))
        self.out.extend(closers)
        del self.stack[cut:]
        return closers[-2][-1] if len(closers) > 1 else before

    def _later_marks(self, k: int) -> frozenset[str]:
        """The marks of the next text after item ``k`` (none when no text follows)."""
        for item in self.items[k + 1 :]:
            if type(item) is Text:
                return item.marks
        return frozenset()

    def _run_end(self, mark: str, start: int) -> int:
        """Index of the last item the mark opened at ``start`` stays open over (mirrors the closing rules)."""
        end = start
        for k in range(start + 1, len(self.items)):
            item = self.items[k]
            if type(item) is Break or (type(item) is Text and mark not in item.marks):
                break
            if type(item) is not Text and mark not in self._later_marks(k):
                break
            end = k
        return end


def _touching(delims: list[str]) -> bool:
    """True when two neighbouring delimiters share a character (CommonMark reads them as one run)."""
    return any(a[-1] == b[0] for a, b in zip(delims, delims[1:], strict=False))
