"""Wiki inline constructs Markdown has no syntax for, read as carried inlines that keep their source.

* **Atoms** keep their exact wiki text as ``source`` and show as that text: images ``!x.png|thumbnail!``,
  attachments ``[^f.pdf]``, issue links ``[ENG-12]``, anchor links ``[#top]``, emoticons ``:)`` ``(y)``
  ``(!)``, and macro tags the parser has no meaning for (``{expand}``, ``{status:...}``, ``{toc}``); an
  anchor ``{anchor:x}`` shows as nothing.
* **Styles** Markdown cannot draw -- ``+underline+``, ``^sup^``, ``~sub~``, ``??cite??``,
  ``{color:red}...{color}`` -- show as their text, and keep their delimiters as a :class:`Wrap` source, so an
  edit of the words inside can be written back inside the same delimiters.

An edit-preserving write (:mod:`.wiki_patch`) puts these back as Jira syntax instead of escaping them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jira_console.jira.richtext.tree import ForeignInline, Inline, Link, Text, merge_text

IMAGE_RE = re.compile(r"!((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^\s!|\[\]{}]*\.[A-Za-z0-9]{2,5})(\|[^!\n]*)?!")
EMOTICON_RE = re.compile(r":\)|:\(|:P|:D|;\)|\((?:y|n|i|/|x|!|\+|-|\?|on|off|\*[rgby]?|flag|flagoff)\)")
ANCHOR_RE = re.compile(r"\{anchor(?::[^}\n]*)?\}")
MACRO_RE = re.compile(r"\{([A-Za-z][A-Za-z0-9-]*)(?::[^}\n]*)?\}")
ISSUE_KEY_RE = re.compile(r"[A-Z][A-Z0-9_]+-[0-9]+")
WRAPPER_KINDS = {"+": "underline", "^": "sup", "~": "sub", "??": "cite"}


@dataclass(frozen=True)
class Wrap:
    """The source of a wiki style Markdown cannot draw: its opening and closing markup, and the whole text."""

    open: str
    close: str
    raw: str


def atom(kind: str, raw: str, marks: frozenset[str], text: str | None = None) -> ForeignInline:
    """A wiki construct kept as written (shown as ``text``, by default its wiki text)."""
    return ForeignInline(kind, raw if text is None else text, marks, None, source=raw)


def image(src: str, i: int, marks: frozenset[str]) -> tuple[ForeignInline, int] | None:
    found = IMAGE_RE.match(src, i)
    if found is None or (i and src[i - 1].isalnum()):
        return None
    return atom("image", found.group(), marks), found.end()


def emoticon(src: str, i: int, marks: frozenset[str]) -> tuple[ForeignInline, int] | None:
    found = EMOTICON_RE.match(src, i)
    if found is None:
        return None
    return atom("emoticon", found.group(), marks), found.end()


def anchor(src: str, i: int, marks: frozenset[str]) -> tuple[ForeignInline, int] | None:
    found = ANCHOR_RE.match(src, i)
    if found is None:
        return None
    return atom("anchor", found.group(), marks, text=""), found.end()


def macro(src: str, i: int, marks: frozenset[str]) -> tuple[ForeignInline, int] | None:
    """Any other macro tag (``{expand:title=x}``, ``{status:colour=Green|title=DONE}``, ``{jira:ENG-1}``,
    ``{toc}``): kept as written, shown as its text."""
    found = MACRO_RE.match(src, i)
    if found is None:
        return None
    return atom("macro", found.group(), marks), found.end()


def bracket(inner: str, parts: list[str], marks: frozenset[str]) -> ForeignInline | None:
    """``[^attachment]``, ``[label|^attachment]``, ``[ENG-12]``, ``[label|ENG-12]``, ``[#anchor]``."""
    target = (parts[1] if len(parts) >= 2 else inner).strip()
    raw = "[" + inner + "]"
    if target.startswith("^"):
        return atom("attachment", raw, marks)
    if ISSUE_KEY_RE.fullmatch(target):
        return atom("issue-link", raw, marks)
    if len(parts) < 2 and target.startswith("#") and len(target) > 1:
        return atom("anchor-link", raw, marks)
    return None


def wrapped(kind: str, inner: list[Inline], opening: str, closing: str, raw: str) -> ForeignInline | None:
    """A style around text of one kind of emphasis (None when the content is richer: then the words are
    read without the style, as before)."""
    nodes = merge_text(inner)
    if len(nodes) != 1 or type(nodes[0]) is not Text:
        return None
    text = nodes[0]
    link: Link | None = text.link
    return ForeignInline(kind, text.text, text.marks, link, source=Wrap(opening, closing, raw))
