"""Rich text between the local side (Markdown) and Jira (ADF on Cloud, wiki markup on Server/DC).

The sync engine talks to this module only::

    local = to_local("cloud", issue["fields"]["description"])         # -> Markdown
    value = to_jira("cloud", local_markdown, previous_jira_value=old)  # -> ADF dict / wiki str / None
    if value is old: ...  # nothing changed: do not write the field

``to_jira`` returns ``previous_jira_value`` itself (the same object) whenever the Markdown is what that
value already reads as, so a description nobody touched is never re-encoded, however lossy the
conversion of the constructs in it would be. Both flavours accept either encoding on the way in,
because webhooks deliver the v2 (wiki string) representation even from Cloud.

Converters (all total functions: malformed input degrades to text, never an exception):

* :func:`adf_to_markdown` / :func:`markdown_to_adf` (see :mod:`jira_console.jira.adf`)
* :func:`wiki_to_markdown` / :func:`markdown_to_wiki` (see :mod:`jira_console.jira.wiki`)
"""

from __future__ import annotations

from typing import Any, Literal

from jira_console.jira.adf import adf_to_markdown, doc, markdown_to_adf, parse_markdown
from jira_console.jira.wiki import parse_wiki, render_wiki

Flavor = Literal["cloud", "server"]

__all__ = [
    "Flavor",
    "RichTextCodec",
    "adf_to_markdown",
    "canonical_markdown",
    "is_unchanged",
    "markdown_to_adf",
    "markdown_to_wiki",
    "to_jira",
    "to_local",
    "wiki_to_markdown",
]


def wiki_to_markdown(text: Any) -> str:
    """Wiki markup (Server/DC, and v2 payloads from Cloud) as canonical Markdown; None gives ''."""
    return adf_to_markdown(doc(parse_wiki(text)))


def markdown_to_wiki(text: Any) -> str:
    """Markdown as wiki markup that reads back (through :func:`wiki_to_markdown`) to the same Markdown."""
    return render_wiki(parse_markdown(text))


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


def canonical_markdown(flavor: Flavor, markdown: Any) -> str:
    """What ``markdown`` reads as after a trip through Jira of this flavor (the normal form)."""
    _check(flavor)
    if flavor == "cloud":
        return adf_to_markdown(markdown_to_adf(markdown))
    return wiki_to_markdown(markdown_to_wiki(markdown))


def is_unchanged(flavor: Flavor, markdown: Any, previous_jira_value: Any) -> bool:
    """True when ``markdown`` says nothing that ``previous_jira_value`` does not already say."""
    previous = to_local(flavor, previous_jira_value)
    text = "" if markdown is None else str(markdown)
    return text == previous or canonical_markdown(flavor, text) == previous


def to_jira(flavor: Flavor, markdown: Any, previous_jira_value: Any = None) -> Any:
    """The value to write for ``markdown``: ADF (cloud) or wiki (server); None clears the field.

    Returns ``previous_jira_value`` itself when the content is unchanged, so callers can test
    ``result is previous_jira_value`` to skip the write.
    """
    _check(flavor)
    if is_unchanged(flavor, markdown, previous_jira_value):
        return previous_jira_value
    if flavor == "cloud":
        return markdown_to_adf(markdown)
    wiki = markdown_to_wiki(markdown)
    return wiki if wiki else None


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
