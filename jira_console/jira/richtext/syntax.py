"""Lexical facts every reader and writer must agree on: emoji short names and edge whitespace.

A ``:short_name:`` is an emoji in both Markdown and wiki markup, so writers escape colons that would
otherwise start one; a space or tab at the edge of a line would be stripped by both readers, so writers
spell it as a character reference.
"""

from __future__ import annotations

import re

EMOJI_RE = re.compile(r":[A-Za-z0-9_+\-]*[A-Za-z][A-Za-z0-9_+\-]*:")
_EMOJI_TAIL_RE = re.compile(r":[A-Za-z0-9_+\-]*$")


def emoji_colon_positions(text: str) -> set[int]:
    """Where a ``:shortcode:`` starts in ``text`` (and a trailing ``:partial`` the next node could complete):
    those colons must be escaped for the text to stay text."""
    if ":" not in text:
        return set()
    found: set[int] = set()
    pos = 0
    while True:
        m = EMOJI_RE.search(text, pos)
        if not m:
            break
        found.add(m.start())
        pos = m.start() + 1
    tail = _EMOJI_TAIL_RE.search(text)
    if tail:
        found.add(tail.start())
    return found


def protect_edge_whitespace(line: str) -> str:
    """A leading or trailing space or tab written as a character reference, so it survives parsing."""
    if line[:1] in (" ", "\t"):
        line = f"&#{ord(line[0])};" + line[1:]
    if line[-1:] in (" ", "\t"):
        line = line[:-1] + f"&#{ord(line[-1])};"
    return line
