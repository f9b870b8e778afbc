"""Markdown for emphasis the stack writer cannot express unambiguously: one delimiter span per run.

The stack writer (:mod:`.md_inline`) keeps a mark open across the runs that share it (``**a _b_ c**``), the
readable form. Where runs that change emphasis meet, CommonMark can merge their delimiters into one run that
opens or closes the wrong thing (``_x_`` then ``**y**`` inside a word: ``*x***y**``). For such content this
writer closes every mark at every change and opens the next run's marks again, choosing delimiters so that no
two neighbouring delimiters share a character (``**``/``__`` for strong, ``_``/``*`` for emphasis, ``~~`` for
strike), and writes a letter next to a span as a character reference, so that every delimiter is flanked by
punctuation or space. The result is longer but reads back as exactly the same runs.
"""

from __future__ import annotations

from itertools import groupby

from jira_console.jira.richtext.md_text import (
    OTHER,
    char_class,
    code_span,
    escape_text,
    protect_edge_space,
    reference_first,
    reference_last,
    render_mention,
)
from jira_console.jira.richtext.syntax import protect_edge_whitespace
from jira_console.jira.richtext.tree import (
    CODE,
    EM,
    NO_MARKS,
    STRIKE,
    STRONG,
    Break,
    Emoji,
    Inline,
    Mention,
    Text,
)

_Span = tuple[frozenset[str], list[Text]] | Inline


def write_spans(items: list[Inline]) -> str:
    """One link group's items (texts and atoms, see :mod:`.runs`) as Markdown, a span per emphasis run."""
    spans = _spans(items)
    out: list[str] = []
    after_closer = False  # the last thing written is a closing delimiter
    outer = ""  # the character of that delimiter
    for k, span in enumerate(spans):
        if not isinstance(span, tuple):
            out.append(_atom(span))
            after_closer = False
            continue
        marks, texts = span
        body = "".join(code_span(t.text) if CODE in t.marks else escape_text(t.text) for t in texts)
        if not marks:
            if after_closer and char_class(body[0]) == OTHER:
                body = reference_first(body)
            out.append(body)
            after_closer = False
            continue
        avoid = {outer if after_closer else "", _forced_outer(spans, k + 1)}
        delims = _delimiters(marks, avoid)
        if out and out[-1] and char_class(out[-1][-1]) == OTHER:
            out[-1] = reference_last(out[-1])
        out.extend(delims)
        out.append(protect_edge_space(protect_edge_whitespace(body)))  # a run may start with a space
        out.extend(reversed(delims))
        after_closer, outer = True, delims[0][0]
    return "".join(out)


def _spans(items: list[Inline]) -> list[_Span]:
    """Consecutive texts with the same emphasis (code or not) as one span; atoms on their own."""
    spans: list[_Span] = []
    for is_text, group in groupby(items, key=lambda item: type(item) is Text):
        if not is_text:
            spans.extend(group)
            continue
        texts = [t for t in group if isinstance(t, Text)]
        for marks, run in groupby(texts, key=lambda t: t.marks - {CODE} if t.marks else NO_MARKS):
            spans.append((marks, list(run)))
    return spans


def _atom(item: Inline) -> str:
    if isinstance(item, Break):
        return "\n"
    if isinstance(item, Emoji):
        return item.short_name
    if isinstance(item, Mention):
        return render_mention(item)
    return ""


def _forced_outer(spans: list[_Span], k: int) -> str:
    """'~' when the next span is struck through only (its only delimiter), else ''."""
    following = spans[k] if k < len(spans) else None
    return "~" if isinstance(following, tuple) and following[0] == {STRIKE} else ""


def _delimiters(marks: frozenset[str], avoid: set[str]) -> list[str]:
    """Delimiters for ``marks``, outermost first: distinct characters, the outer one not in ``avoid``."""
    candidates: list[list[str]] = []
    for strike_outside in (True, False) if STRIKE in marks else (False,):
        for strong in ("**", "__") if STRONG in marks else ("",):
            for em in ("_", "*") if EM in marks else ("",):
                if strong and em and strong[0] == em:
                    continue  # one character for both would merge the runs
                inner = [d for d in (strong, em) if d]
                if STRIKE in marks:
                    inner = ["~~", *inner] if strike_outside else [*inner, "~~"]
                candidates.append(inner)
    return next((c for c in candidates if c[0][0] not in avoid), candidates[0])
