"""Inline content prepared for writers that mark emphasis with delimiters (Markdown and wiki markup).

Both syntaxes cannot close a delimiter after a space, so whitespace at the edge of an emphasised run is moved
outside it (the only normalisation the writers apply to text); carried inline nodes are shown as text; and
the content is cut into groups that share one link, each written as one link (or as plain text).
"""

from __future__ import annotations

from itertools import groupby

from jira_console.jira.richtext.tree import CODE, NO_MARKS, ForeignInline, Inline, Link, Text, merge_text


def link_groups(nodes: list[Inline]) -> list[tuple[Link | None, list[Inline]]]:
    """``nodes`` prepared (see the module docstring) and grouped by link; non-text nodes carry no link."""
    runs = prepare(nodes)
    return [(link, list(group)) for link, group in groupby(runs, key=_link)]


def _link(node: Inline) -> Link | None:
    return node.link if type(node) is Text else None


def prepare(nodes: list[Inline]) -> list[Inline]:
    """Texts and atoms only (carried nodes become their text), edge whitespace moved out of emphasis."""
    items: list[Inline] = []
    for node in nodes:
        if type(node) is ForeignInline:
            if node.text:
                items.append(Text(node.text, node.marks, node.link))
        elif type(node) is not Text or node.text:
            items.append(node)
    # Adjacent texts with the same marks and link are one run: Jira's editor splits text nodes as it likes,
    # and a patch keeps a run's old pieces beside new ones. Written apart, two code runs would read back as
    # one code span with a double backtick inside ("`a``b`"); carried nodes shown as text join their
    # neighbours the same way.
    items = merge_text(items)
    if not any(type(n) is Text and n.marks and CODE not in n.marks for n in items):
        return items  # nothing emphasised: nothing to move
    out: list[Inline] = []
    moved = False
    last = len(items) - 1
    for k, node in enumerate(items):
        if type(node) is not Text or not node.marks or CODE in node.marks:
            out.append(node)
            continue
        text, marks, link = node.text, node.marks, node.link
        prev_marks = _marks_if_linked(items[k - 1], link) if k else NO_MARKS
        next_marks = _marks_if_linked(items[k + 1], link) if k < last else NO_MARKS
        core = text.strip(" \t")
        if not core:
            out.append(Text(text, marks & prev_marks & next_marks, link))
            moved = True
            continue
        lead = text[: len(text) - len(text.lstrip(" \t"))]
        trail = text[len(text.rstrip(" \t")) :]
        if lead:
            out.append(Text(lead, marks & prev_marks, link))
        out.append(Text(core, marks, link) if lead or trail else node)
        if trail:
            out.append(Text(trail, marks & next_marks, link))
        moved = moved or bool(lead or trail)
    return merge_text(out) if moved else out  # a moved space may now read like its neighbour


def _marks_if_linked(node: Inline, link: Link | None) -> frozenset[str]:
    """The marks a neighbour shares with a run in ``link`` (none when it is in another link or not text)."""
    if type(node) is Text and node.link == link:
        return node.marks
    return NO_MARKS
