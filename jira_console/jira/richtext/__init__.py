"""Rich text between the local side (Markdown) and Jira (ADF on Cloud, wiki markup on Server/DC).

The sync engine talks to this package through :mod:`.codec`, re-exported here::

    local = to_local("cloud", issue["fields"]["description"])         # -> Markdown
    value = to_jira("cloud", local_markdown, previous_jira_value=old)  # -> ADF dict / wiki str / None
    if value is old: ...  # nothing changed: do not write the field

Every conversion goes through one intermediate tree (:mod:`.tree`); each format has a reader and a writer:

=================  =========================  =========================
format             reader (-> tree)           writer (tree ->)
=================  =========================  =========================
ADF (Cloud)        :mod:`.adf_read`           :mod:`.adf_write`
wiki (Server/DC)   :mod:`.wiki_parse`,        :mod:`.wiki_write`
                   :mod:`.wiki_inline`
Markdown (local)   :mod:`.md_parse`           :mod:`.md_write`, :mod:`.md_inline`,
                                              :mod:`.md_spans`, :mod:`.md_text`
=================  =========================  =========================

:mod:`.runs` prepares inline content for the two delimiter-based writers (Markdown and wiki) and
:mod:`.syntax` holds the lexical facts all of them share.
"""

from jira_console.jira.richtext.codec import (
    Flavor,
    RichTextCodec,
    adf_to_markdown,
    canonical_markdown,
    is_unchanged,
    markdown_to_adf,
    markdown_to_wiki,
    to_jira,
    to_local,
    wiki_to_markdown,
    write_rich_text,
)
from jira_console.jira.richtext.patch import POLICIES, Patched, Policy

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
    "write_rich_text",
    "POLICIES",
    "Patched",
    "Policy",
]
