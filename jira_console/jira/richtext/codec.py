"""The conversions the rest of jira-console uses, and the guarantee that unchanged text is never rewritten.

``to_jira`` returns ``previous_jira_value`` itself (the same object) whenever the Markdown is what that
value already reads as, so a description nobody touched is never re-encoded, however lossy the
conversion of the constructs in it would be. Both flavours accept either encoding on the way in,
because webhooks deliver the v2 (wiki string) representation even from Cloud.

Converters (all total functions: malformed input degrades to text, never an exception):
:func:`adf_to_markdown` / :func:`markdown_to_adf` and :func:`wiki_to_markdown` / :func:`markdown_to_wiki`,
each a reader and a writer joined at the intermediate tree (:mod:`jira_console.jira.richtext.tree`).
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from jira_console.jira.richtext.adf_patch import patch_adf
from jira_console.jira.richtext.adf_read import adf_flat_text, read_adf
from jira_console.jira.richtext.adf_write import write_adf
from jira_console.jira.richtext.md_parse import parse_markdown
from jira_console.jira.richtext.md_write import render_markdown
from jira_console.jira.richtext.patch import POLICIES, Context, Patched, Policy
from jira_console.jira.richtext.tree import Block, Paragraph, flat_text, text_inlines
from jira_console.jira.richtext.wiki_parse import parse_wiki
from jira_console.jira.richtext.wiki_patch import patch_wiki
from jira_console.jira.richtext.wiki_write import render_wiki

Flavor = Literal["cloud", "server"]


def adf_to_markdown(document: Any) -> str:
    """An ADF document (or any ADF node, or None) as canonical Markdown."""
    try:
        return render_markdown(read_adf(document))
    except RecursionError:
        return render_markdown([Paragraph(text_inlines(adf_flat_text(document)))])


def markdown_to_adf(text: Any) -> dict[str, Any] | None:
    """Markdown as an ADF document fit to send to Jira Cloud; empty input gives None."""
    blocks = parse_markdown(text)
    try:
        return write_adf(blocks)
    except RecursionError:
        return write_adf(_flattened(blocks))


MEMO_MAX_CHARS = 8192
"""Wiki texts up to this length are converted once and remembered (:data:`MEMO_ENTRIES` of them)."""
MEMO_ENTRIES = 512
"""How many conversions are remembered: with their Markdown, about 8 MB when the texts are ASCII (Python keeps
up to 4 bytes a character for other text)."""


def wiki_to_markdown(text: Any) -> str:
    """Wiki markup (Server/DC, and v2 payloads from Cloud) as canonical Markdown; None gives ''.

    Every webhook delivery of an issue carries its whole description, nearly always the one the last
    delivery carried: a text seen lately is not parsed again (this conversion was a quarter of the CPU
    time of applying a batch of such deliveries)."""
    if type(text) is str and len(text) <= MEMO_MAX_CHARS:
        return _remembered_wiki_to_markdown(text)
    return _wiki_to_markdown(text)


@functools.lru_cache(maxsize=MEMO_ENTRIES)
def _remembered_wiki_to_markdown(text: str) -> str:
    return _wiki_to_markdown(text)


def _wiki_to_markdown(text: Any) -> str:
    blocks = parse_wiki(text)
    try:
        return render_markdown(blocks)
    except RecursionError:
        return render_markdown(_flattened(blocks))


def markdown_to_wiki(text: Any) -> str:
    """Markdown as wiki markup that reads back (through :func:`wiki_to_markdown`) to the same Markdown."""
    return render_wiki(parse_markdown(text))


def _flattened(blocks: list[Block]) -> list[Block]:
    """A tree too deep to write, as one paragraph of its words."""
    return [Paragraph(text_inlines(flat_text(blocks)))]


def _check(flavor: str) -> None:
    if flavor not in ("cloud", "server"):
        raise ValueError(f"unknown Jira flavor {flavor!r}: expected 'cloud' or 'server'")


def to_local(flavor: Flavor, value: Any) -> str:
    """A Jira rich-text value as Markdown. Dicts are ADF and strings wiki markup, whatever the flavor."""
    _check(flavor)
    if value is None:
        return ""
    if isinstance(value, str):
        return wiki_to_markdown(value)
    return adf_to_markdown(value)


def _encode(flavor: Flavor, markdown: str) -> tuple[Any, str]:
    """The Jira value for ``markdown`` and the Markdown that value reads back as (one parse for both)."""
    if flavor == "cloud":
        document = markdown_to_adf(markdown)
        return document, adf_to_markdown(document)
    wiki = markdown_to_wiki(markdown)
    return (wiki or None), wiki_to_markdown(wiki)


def canonical_markdown(flavor: Flavor, markdown: Any) -> str:
    """What ``markdown`` reads as after a trip through Jira of this flavor (the normal form)."""
    _check(flavor)
    return _encode(flavor, "" if markdown is None else str(markdown))[1]


def is_unchanged(flavor: Flavor, markdown: Any, previous_jira_value: Any) -> bool:
    """True when ``markdown`` says nothing that ``previous_jira_value`` does not already say."""
    return to_jira(flavor, markdown, previous_jira_value) is previous_jira_value


def to_jira(
    flavor: Flavor, markdown: Any, previous_jira_value: Any = None, policy: Policy = "preserve"
) -> Any:
    """The value to write for ``markdown``: ADF (cloud) or wiki (server); None clears the field.

    Returns ``previous_jira_value`` itself when the content is unchanged, so callers can test
    ``result is previous_jira_value`` to skip the write. A change is applied to the previous value as a
    patch (:func:`write_rich_text`); what the policy kept from Jira is only reported by that function.
    """
    return write_rich_text(flavor, markdown, previous_jira_value, policy).value


UNPATCHABLE = (
    "all of it (the edit, applied to Jira's version, would read back as other text; "
    'rich_text_policy = "markdown_wins" writes the Markdown as it is)'
)
"""What :func:`write_rich_text` reports as kept when no patch of Jira's value says what the Markdown says."""


def write_rich_text(
    flavor: Flavor, markdown: Any, previous_jira_value: Any = None, policy: Policy = "preserve"
) -> Patched:
    """Like :func:`to_jira`, with what was kept from Jira instead of the local text (:mod:`.patch`).

    Unchanged blocks of the previous value are kept byte for byte, changed ones re-rendered with the
    inline constructs Markdown cannot show carried over; with ``policy="preserve"`` a change that would
    drop such a construct leaves that block as Jira has it and says so in :attr:`Patched.kept`.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown rich_text_policy {policy!r}: expected one of {', '.join(POLICIES)}")
    previous = to_local(flavor, previous_jira_value)
    text = "" if markdown is None else str(markdown)
    if text == previous:
        return Patched(previous_jira_value)
    value, canonical = _encode(flavor, text)
    if canonical == previous:
        return Patched(previous_jira_value)
    if not previous:
        return Patched(value)
    ctx = Context(policy)
    if flavor == "cloud" and isinstance(previous_jira_value, dict):
        patched = Patched(patch_adf(previous_jira_value, parse_markdown(text), ctx) or None, ctx.kept)
    elif flavor == "server" and isinstance(previous_jira_value, str):
        patched = Patched(patch_wiki(previous_jira_value, parse_markdown(text), ctx) or None, ctx.kept)
    else:
        return Patched(value)
    if patched.kept or to_local(flavor, patched.value) == canonical:
        return patched
    # The patch would read back as other text than the Markdown (a kept block whose meaning depends on its
    # neighbours, such as an unclosed wiki {code}): never written. markdown_wins writes the Markdown afresh;
    # preserve keeps Jira's value and says so, as when a construct would be lost.
    if policy == "markdown_wins":
        return Patched(value)
    return Patched(previous_jira_value, [UNPATCHABLE])


class RichTextCodec:
    """The converters bound to one Jira flavor, for code that holds a connection's flavor once."""

    def __init__(self, flavor: Flavor) -> None:
        _check(flavor)
        self.flavor: Flavor = flavor

    def to_local(self, value: Any) -> str:
        """See :func:`to_local`."""
        return to_local(self.flavor, value)

    def to_jira(self, markdown: Any, previous_jira_value: Any = None) -> Any:
        """See :func:`to_jira`."""
        return to_jira(self.flavor, markdown, previous_jira_value)

    def is_unchanged(self, markdown: Any, previous_jira_value: Any) -> bool:
        """See :func:`is_unchanged`."""
        return is_unchanged(self.flavor, markdown, previous_jira_value)

    def __repr__(self) -> str:
        return f"RichTextCodec({self.flavor!r})"
