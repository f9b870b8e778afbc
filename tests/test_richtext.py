"""Rich text: each construct in both directions, degradation of unsupported content, the no-rewrite
guarantee of to_jira, and the recorded Jira payloads."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from jira_console.jira.richtext import (
    RichTextCodec,
    adf_to_markdown,
    canonical_markdown,
    markdown_to_adf,
    markdown_to_wiki,
    to_jira,
    to_local,
    wiki_to_markdown,
)


def t(text: str, *marks: str, href: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    mark_list: list[dict[str, Any]] = []
    if href:
        mark_list.append({"type": "link", "attrs": {"href": href}})
    mark_list += [{"type": m} for m in marks]
    if mark_list:
        node["marks"] = mark_list
    return node


def p(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def d(*content: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "type": "doc", "content": list(content)}


def li(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": list(content)}


# (markdown, ADF document, wiki) for each supported construct; all three directions are checked
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("Hello", d(p(t("Hello"))), "Hello"),
    ("a\n\nb", d(p(t("a")), p(t("b"))), "a\n\nb"),
    ("# One", d({"type": "heading", "attrs": {"level": 1}, "content": [t("One")]}), "h1. One"),
    ("###### Six", d({"type": "heading", "attrs": {"level": 6}, "content": [t("Six")]}), "h6. Six"),
    ("**b** _i_ ~~s~~ `c`",
     d(p(t("b", "strong"), t(" "), t("i", "em"), t(" "), t("s", "strike"), t(" "), t("c", "code"))),
     "*b* _i_ -s- {{c}}"),
    ("in*sid*e", d(p(t("in"), t("sid", "em"), t("e"))), "in{_}sid{_}e"),
    ("**_both_**", d(p(t("both", "strong", "em"))), "*_both_*"),
    ("[site](http://x.org)", d(p(t("site", href="http://x.org"))), "[site|http://x.org]"),
    ("[**bold link**](http://x.org)", d(p(t("bold link", "strong", href="http://x.org"))),
     "[*bold link*|http://x.org]"),
    ("[http://x.org](http://x.org)", d(p(t("http://x.org", href="http://x.org"))), "[http://x.org]"),
    ("a\\\nb", d(p(t("a"), {"type": "hardBreak"}, t("b"))), "a\nb"),
    ("- a\n- b\n  - c", d({"type": "bulletList", "content": [
        li(p(t("a"))), li(p(t("b")), {"type": "bulletList", "content": [li(p(t("c")))]})]}),
     "* a\n* b\n** c"),
    ("1. a\n2. b\n   1. c", d({"type": "orderedList", "content": [
        li(p(t("a"))), li(p(t("b")), {"type": "orderedList", "content": [li(p(t("c")))]})]}),
     "# a\n# b\n## c"),
    ("- a\n  1. b", d({"type": "bulletList", "content": [
        li(p(t("a")), {"type": "orderedList", "content": [li(p(t("b")))]})]}), "* a\n*# b"),
    ("```python\nx = 1\n\ny = 2\n```", d({"type": "codeBlock", "attrs": {"language": "python"},
                                          "content": [t("x = 1\n\ny = 2")]}),
     "{code:python}\nx = 1\n\ny = 2\n{code}"),
    ("```\nplain *text*\n```", d({"type": "codeBlock", "content": [t("plain *text*")]}),
     "{noformat}\nplain *text*\n{noformat}"),
    ("> quoted\n>\n> second", d({"type": "blockquote", "content": [p(t("quoted")), p(t("second"))]}),
     "{quote}\nquoted\n\nsecond\n{quote}"),
    ("---", d({"type": "rule"}), "----"),
    ("@[5b10ac8d](accountid:5b10ac8d) hi",  # wiki mentions carry no display name: label = id
     d(p({"type": "mention", "attrs": {"id": "5b10ac8d", "text": "@5b10ac8d"}}, t(" hi"))),
     "[~accountid:5b10ac8d] hi"),
    ("ok :thumbsup:", d(p(t("ok "), {"type": "emoji", "attrs": {"shortName": ":thumbsup:"}})),
     "ok :thumbsup:"),
    ("| h1 | h2 |\n| --- | --- |\n| a | `b` |", d({
        "type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": [
            {"type": "tableRow", "content": [
                {"type": "tableHeader", "attrs": {}, "content": [p(t("h1"))]},
                {"type": "tableHeader", "attrs": {}, "content": [p(t("h2"))]}]},
            {"type": "tableRow", "content": [
                {"type": "tableCell", "attrs": {}, "content": [p(t("a"))]},
                {"type": "tableCell", "attrs": {}, "content": [p(t("b", "code"))]}]}]}),
     "||h1||h2||\n|a|{{b}}|"),
]  # fmt: skip


@pytest.mark.parametrize(("markdown", "adf", "wiki"), CASES, ids=[c[0][:20] for c in CASES])
def test_construct_in_every_direction(markdown: str, adf: dict[str, Any], wiki: str) -> None:
    assert adf_to_markdown(adf) == markdown
    assert markdown_to_adf(markdown) == adf
    assert markdown_to_wiki(markdown) == wiki
    assert wiki_to_markdown(wiki) == markdown


def test_cloud_mentions_keep_the_display_name() -> None:
    adf = d(p({"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Ann Lee"}}, t(" hi")))
    assert adf_to_markdown(adf) == "@[Ann Lee](accountid:5b10ac8d82e05b22cc7d4ef5) hi"
    assert markdown_to_adf("@[Ann Lee](accountid:5b10ac8d82e05b22cc7d4ef5) hi") == adf
    assert markdown_to_wiki(adf_to_markdown(adf)) == "[~accountid:5b10ac8d82e05b22cc7d4ef5] hi"


def test_server_user_mentions() -> None:
    assert wiki_to_markdown("ping [~jsmith] now") == "ping @[jsmith](user:jsmith) now"
    assert markdown_to_wiki("ping @[John](user:jsmith) now") == "ping [~jsmith] now"
    # Cloud has no user names: the mention stays readable as text instead of producing invalid ADF
    assert markdown_to_adf("@[John](user:jsmith)") == d(p(t("@jsmith")))


def test_a_wiki_text_seen_lately_is_not_converted_again_and_a_long_one_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jira_console.jira.richtext import codec

    convert = codec._wiki_to_markdown
    converted: list[str] = []

    def counting(text: Any) -> str:
        converted.append(text)  # other threads of this worker may convert other texts meanwhile
        return convert(text)

    monkeypatch.setattr(codec, "_wiki_to_markdown", counting)
    codec._remembered_wiki_to_markdown.cache_clear()
    text = "h2. Steps\n\n# open *the* page\n# {{click}} [here|https://example.com]"
    expected = "## Steps\n\n1. open **the** page\n2. `click` [here](https://example.com)"
    assert wiki_to_markdown(text) == wiki_to_markdown(text) == expected
    assert converted.count(text) == 1
    long_text = "*word* " * (codec.MEMO_MAX_CHARS // 7 + 1)
    assert wiki_to_markdown(long_text) == wiki_to_markdown(long_text) == convert(long_text)
    assert converted.count(long_text) == 2
    assert codec._remembered_wiki_to_markdown.cache_info().maxsize == codec.MEMO_ENTRIES


@pytest.mark.parametrize(
    ("wiki", "markdown"),
    [
        ("{code:title=Foo.java|borderStyle=solid}\nint x;\n{code}", "```\nint x;\n```"),
        ("{code:java|title=x}\nint x;\n{code}", "```java\nint x;\n```"),
        ("bq. a quote", "> a quote"),
        ("line\\\\next", "line\\\nnext"),
        ("{quote}one line{quote}", "> one line"),
        ("- dash item\n- second", "- dash item\n- second"),
        ("+under+ ^sup^ ~sub~ ??cite??", "under sup sub cite"),
        ("{color:red}red text{color}", "red text"),
        ("{panel:title=Heads up}inside{panel}", "Heads up\n\ninside"),
        ("a *bold **and _it_?", "a \\*bold \\*\\*and _it_?"),
        ("x{*}y{*}z", "x**y**z"),
        ("[anchor|#section] [^file.txt] [not a link]", "[anchor](#section) \\[^file.txt\\] \\[not a link\\]"),
        ("3 -- 4 --- 5", "3 -- 4 --- 5"),
        ("snake_case_name and well-known", "snake_case_name and well-known"),
        ("Proyecto privado \\- no", "Proyecto privado - no"),
    ],
)
def test_wiki_dialect(wiki: str, markdown: str) -> None:
    assert wiki_to_markdown(wiki) == markdown


@pytest.mark.parametrize(
    ("markdown", "canonical"),
    [
        ("* a\n* b", "- a\n- b"),
        ("__bold__ and *it*", "**bold** and _it_"),
        ("line one\nline two", "line one\\\nline two"),
        ("Title\n=====", "# Title"),
        ("    indented code", "```\nindented code\n```"),
        ("# Heading ##", "# Heading"),
        ("<https://x.org>", "[https://x.org](https://x.org)"),
        ("a&amp;b &#42;", "a&b \\*"),
        ("![alt](http://i/x.png)", "[alt](http://i/x.png)"),
        ("1) one\n2) two", "1. one\n2. two"),
        ("text  \nbreak", "text\\\nbreak"),
        ("unclosed **bold and [link", "unclosed \\*\\*bold and \\[link"),
    ],
)
def test_markdown_variants_canonicalise(markdown: str, canonical: str) -> None:
    assert adf_to_markdown(markdown_to_adf(markdown)) == canonical


def test_adjacent_lists_stay_separate() -> None:
    two = d(
        {"type": "bulletList", "content": [li(p(t("a")))]}, {"type": "bulletList", "content": [li(p(t("b")))]}
    )
    assert adf_to_markdown(two) == "- a\n\n* b"
    assert markdown_to_adf("- a\n\n* b") == two


def test_ordered_list_start_survives_markdown() -> None:
    adf = d({"type": "orderedList", "attrs": {"order": 3}, "content": [li(p(t("c"))), li(p(t("d")))]})
    assert adf_to_markdown(adf) == "3. c\n4. d"
    assert markdown_to_adf("3. c\n4. d") == adf


def test_text_that_looks_like_syntax_is_escaped_and_survives() -> None:
    text = "*not bold* _x_ `y` [z](w) # h > q - l 1. n | p :smile: <b> &amp; ~~s~~ {{m}} [~u] h1. bq. \\"
    adf = d(p(t(text)))
    markdown = adf_to_markdown(adf)
    assert markdown_to_adf(markdown) == adf
    wiki = markdown_to_wiki(markdown)
    assert wiki_to_markdown(wiki) == markdown


def test_leading_and_trailing_spaces_survive_as_entities() -> None:
    adf = d(p(t("  indented  ")))
    assert adf_to_markdown(adf) == "&#32; indented &#32;"
    assert markdown_to_adf(adf_to_markdown(adf)) == adf


def test_spaces_at_the_edge_of_emphasis_move_outside() -> None:
    assert adf_to_markdown(d(p(t("bold ", "strong"), t("next")))) == "**bold** next"


def test_code_mark_with_other_marks_becomes_plain_code_for_cloud() -> None:
    assert markdown_to_adf("**`x`**") == d(p(t("x", "code")))


# ---- the Markdown dialect (markdown-it-py with the local side's differences) ---------------------------


@pytest.mark.parametrize(
    ("markdown", "canonical"),
    [
        ("[x]: http://e.com\n\n[x]", "\\[x\\]: http://e.com\n\n\\[x\\]"),  # no reference definitions
        ("<div>*hi*</div>", "\\<div>_hi_\\</div>"),  # HTML is text
        ("a<br>b<BR/>c", "a\\\nb\\\nc"),
        ("\\:smile: \\@[x](accountid:1)", "\\:smile: \\@[x](accountid:1)"),  # escaped: no emoji, no mention
        (
            "[x](javascript:alert(1)) [y](<https://e.com/ä b>)",
            "[x](<javascript:alert(1)>) [y](<https://e.com/ä b>)",
        ),
        ("<me@example.com>", "[me@example.com](mailto:me@example.com)"),
        ("~~gone~~ ~single~", "~~gone~~ ~single\\~"),  # one tilde does not strike
        ("Setext\nheading\n---", "## Setext heading"),
        ("*a\nb*", "_a_\\\n_b_"),  # emphasis is line-local in the canonical form
    ],
)
def test_markdown_dialect(markdown: str, canonical: str) -> None:
    once = adf_to_markdown(markdown_to_adf(markdown))
    assert once == canonical
    assert adf_to_markdown(markdown_to_adf(once)) == once


def test_links_keep_their_destination_verbatim() -> None:
    for href in ("https://e.com/ä b", "javascript:alert(1)", "https://e.com/a&amp;b", "x y\\z"):
        adf = d(p(t("x", href=href)))
        assert markdown_to_adf(adf_to_markdown(adf)) == adf, href


@pytest.mark.parametrize(
    ("content", "markdown"),
    [
        ([t("a"), t("(b)", "strong"), t("c")], "&#97;**(b)**&#99;"),
        ([t("x"), t("[y]", "strike"), t("z")], "&#120;~~\\[y\\]~~&#122;"),
        ([t("\u00a0nbsp\u00a0", "em")], "_&#160;nbsp&#160;_"),
        ([t("<0@0>")], "\\<0@0>"),
    ],
)
def test_commonmark_flanking_is_respected_by_the_writer(content: list[dict[str, Any]], markdown: str) -> None:
    adf = d(p(*content))
    assert adf_to_markdown(adf) == markdown
    assert markdown_to_adf(markdown) == adf


def test_emphasis_changing_where_delimiters_would_merge_is_written_span_by_span() -> None:
    # '*{code}***word**' would leave CommonMark a '***' run it cannot close after '}' before 'w'
    adf = d(p(t("{code}", "em"), t("word", "strong")))
    markdown = adf_to_markdown(adf)
    assert markdown == "_{code}_**word**"
    assert markdown_to_adf(markdown) == adf
    assert wiki_to_markdown("_{code}_*word* ") == markdown
    # a run starting with a space keeps its mark: the space is written as a reference
    adf = d(p(t("a", "strong", "strike"), t("  b", "strike")))
    assert markdown_to_adf(adf_to_markdown(adf)) == adf


def test_markdown_nested_past_the_parsers_limit_keeps_its_words() -> None:
    for depth in (25, 3000):
        adf = markdown_to_adf(">" * depth + " deep words")
        assert adf is not None and "deep words" in json.dumps(adf), depth


def test_a_nested_list_starting_with_an_empty_item_stays_a_list() -> None:
    for kind, marker in (("bulletList", "-"), ("orderedList", "1.")):
        nested = {"type": kind, "content": [li(p())]}  # '-' right under text would read as a setext underline
        adf = d({"type": "bulletList", "content": [li(p(t("x")), nested)]})
        assert adf_to_markdown(adf) == f"- x\n\n  {marker}"
        assert markdown_to_adf(adf_to_markdown(adf)) == adf


def test_an_item_opening_with_nested_empty_items_is_not_a_rule() -> None:
    assert wiki_to_markdown("*** ") == "-\n  - -"  # '- - -' would be a thematic break
    assert markdown_to_wiki("-\n  - -") == "* \n** \n*** "


def test_an_escaped_at_sign_before_a_link_stays_escaped() -> None:
    adf = d(p(t("@"), t("n", href="accountid:1")))
    assert adf_to_markdown(adf) == "\\@[n](accountid:1)"
    assert markdown_to_adf("\\@[n](accountid:1)") == adf


def test_wiki_emphasis_at_a_line_start_is_not_a_list_marker() -> None:
    assert markdown_to_wiki("**# not a list**") == "{*}# not a list*"
    assert wiki_to_markdown("{*}# not a list*") == "**# not a list**"


# ---- degradation ----------------------------------------------------------------------------------


def test_unknown_and_unsupported_adf_nodes_keep_their_text() -> None:
    adf = d(
        {"type": "panel", "attrs": {"panelType": "info"}, "content": [p(t("panel words"))]},
        p(
            t("state "),
            {"type": "status", "attrs": {"text": "IN PROGRESS", "color": "blue"}},
            t(" on "),
            {"type": "date", "attrs": {"timestamp": "1700000000000"}},
            t(" see "),
            {"type": "inlineCard", "attrs": {"url": "https://x.org/c"}},
            t(" u", "underline"),
        ),
        {"type": "expand", "attrs": {"title": "More"}, "content": [p(t("hidden words"))]},
        {"type": "futureBlock", "content": [p(t("future words"))]},
        {"type": "mysteryInline", "text": "mystery words"},
        {"type": "taskList", "content": [{"type": "taskItem", "content": [t("task words")]}]},
        {
            "type": "mediaSingle",
            "content": [{"type": "media", "attrs": {"id": "x", "type": "file", "alt": "pic.png"}}],
        },
    )
    markdown = adf_to_markdown(adf)
    for words in ("panel words", "IN PROGRESS", "2023-11-14", "https://x.org/c", "More", "hidden words",
                  "future words", "mystery words", "task words", "pic.png"):  # fmt: skip
        assert words in markdown


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        [],
        {"type": "doc"},
        {"type": "doc", "content": "oops"},
        {"type": "doc", "content": [None, 3, "x", {"type": None}, {"content": {}}]},
        {
            "type": "doc",
            "content": [{"type": "paragraph", "content": [{"type": "text"}, {"type": "text", "text": 5}]}],
        },
        {"type": "doc", "content": [{"type": "heading", "attrs": {"level": "9"}, "content": [t("h")]}]},
        {"type": "doc", "content": [{"type": "orderedList", "attrs": {"order": "x"}, "content": [li()]}]},
        {"type": "doc", "content": [{"type": "table", "content": [{"type": "tableRow", "content": []}]}]},
        {"type": "doc", "content": [p(t("x", href=None), {"type": "text", "text": "y", "marks": "bad"})]},
        42,
        "plain string",
    ],
)
def test_malformed_adf_never_raises(value: Any) -> None:
    assert isinstance(adf_to_markdown(value), str)
    assert isinstance(to_local("cloud", value), str)


@pytest.mark.parametrize(
    "wiki",
    ["{code}never closed", "*unbalanced", "[broken|", "||a||b", "|a|b", "{quote}open", "h7. no", "# \n## ",
     "{{", "}}", "\\", "[~]", "{panel:title=x", "*_-+^~??", "----\n----", "&#xFFFFFFF; &#0;", 12, None],
)  # fmt: skip
def test_malformed_wiki_degrades_to_text(wiki: Any) -> None:
    markdown = wiki_to_markdown(wiki)
    assert isinstance(markdown, str)
    for word in re.findall(r"[A-Za-z]{3,}", "" if wiki is None else str(wiki)):
        if word not in ("code", "quote", "panel", "title"):
            assert word in markdown


def test_deep_nesting_does_not_blow_the_stack() -> None:
    node: dict[str, Any] = p(t("deep"))
    for _ in range(3000):
        node = {"type": "blockquote", "content": [node]}
    assert "deep" in adf_to_markdown(d(node))
    assert isinstance(markdown_to_adf(">" * 3000 + " deep"), dict)


def test_empty_values() -> None:
    assert markdown_to_adf(None) is None and markdown_to_adf("") is None and markdown_to_adf("\n \n") is None
    assert markdown_to_wiki(None) == "" and wiki_to_markdown(None) == "" and adf_to_markdown(None) == ""


# ---- to_jira: content nobody changed is never rewritten --------------------------------------------

ODD_ADF = d(
    {"type": "panel", "attrs": {"panelType": "note"}, "content": [p(t("keep my panel"))]},
    p(t("bold ", "strong"), t("text", "underline")),
    p(),
)


def test_to_jira_returns_the_same_adf_object_when_unchanged() -> None:
    before = copy.deepcopy(ODD_ADF)
    markdown = to_local("cloud", ODD_ADF)
    assert to_jira("cloud", markdown, ODD_ADF) is ODD_ADF
    assert ODD_ADF == before  # and it was not touched
    # a trailing newline or CRLF from the database is not a change either
    assert to_jira("cloud", markdown + "\n", ODD_ADF) is ODD_ADF
    assert to_jira("cloud", markdown.replace("\n", "\r\n"), ODD_ADF) is ODD_ADF


def test_to_jira_encodes_changed_content() -> None:
    markdown = to_local("cloud", ODD_ADF) + "\n\nnew paragraph"
    result = to_jira("cloud", markdown, ODD_ADF)
    assert result is not ODD_ADF
    # the change is a patch: the blocks before it are Jira's own (panel, underline), the new paragraph
    # follows the last visible block, and the empty paragraph Markdown does not show stays where it was
    assert result["content"] == [*ODD_ADF["content"][:2], p(t("new paragraph")), ODD_ADF["content"][2]]


def test_to_jira_server_returns_the_same_string_when_unchanged() -> None:
    wiki = "h1. Title\r\n\r\nSome *bold* **and _bold_?\r\n\r\n{panel}x{panel}"
    assert to_jira("server", to_local("server", wiki), wiki) is wiki
    assert to_jira("server", "changed", wiki, policy="markdown_wins") == "changed"
    # by default the panel Markdown cannot show is kept, though its text was deleted locally
    assert to_jira("server", "changed", wiki) == "{panel}x{panel}\r\n\r\nchanged"


def test_to_jira_cloud_accepts_a_wiki_previous_value_from_a_webhook() -> None:
    previous = "Fix *me* please"  # webhooks carry the v2 representation even from Cloud
    assert to_local("cloud", previous) == "Fix **me** please"
    assert to_jira("cloud", "Fix **me** please", previous) is previous
    assert to_jira("cloud", "Fix **you** please", previous) == d(
        p(t("Fix "), t("you", "strong"), t(" please"))
    )


def test_clearing_and_creating() -> None:
    assert to_jira("cloud", "", None) is None
    assert to_jira("cloud", "", d(p(t("x")))) is None
    assert to_jira("server", "", "x") is None
    assert to_jira("cloud", "hi") == d(p(t("hi")))
    assert to_jira("server", "**hi**") == "*hi*"


def test_codec_binds_the_flavor() -> None:
    codec = RichTextCodec("cloud")
    assert codec.to_jira(codec.to_local(ODD_ADF), ODD_ADF) is ODD_ADF
    assert codec.is_unchanged("keep my panel\n\n**bold** text", ODD_ADF)
    assert canonical_markdown("server", "* a") == "- a"
    with pytest.raises(ValueError):
        RichTextCodec("datacenter")  # type: ignore[arg-type]


# ---- recorded payloads ----------------------------------------------------------------------------


def _wiki_strings(samples: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{path}/{key}"
                # only issue fields and comments hold wiki; renderedFields hold HTML
                wiki_field = here.endswith(("/fields/description", "/fields/environment")) or (
                    key == "body" and "comment" in path
                )
                if wiki_field and isinstance(value, str) and "renderedFields" not in here:
                    found.append((here, value))
                walk(value, here)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    for file in sorted((samples / "webhooks").rglob("*.json")) + sorted((samples / "api").rglob("*.json")):
        walk(json.loads(file.read_text(encoding="utf-8")), file.name)
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


@pytest.mark.conformance
def test_recorded_wiki_strings_convert_keeping_every_word(samples: Path) -> None:
    strings = _wiki_strings(samples)
    assert len(strings) > 50
    assert any("{quote}" in text for _, text in strings)  # the markup-rich samples were found
    markup = {"quote", "noformat", "code", "h1", "h2"}
    for where, wiki in strings:
        markdown = wiki_to_markdown(wiki)
        have = set(_words(markdown))
        missing = [w for w in _words(wiki) if w not in have and w not in markup]
        assert not missing, (where, missing, markdown)
        # and the Markdown is canonical: a trip back through wiki changes nothing
        assert wiki_to_markdown(markdown_to_wiki(markdown)) == markdown, where


@pytest.mark.conformance
def test_recorded_markup_sample_reads_as_expected(samples: Path) -> None:
    data = json.loads((samples / "webhooks/cloud-zulip/commented_markup_v1.json").read_text())
    markdown = wiki_to_markdown(data["comment"]["body"])
    assert "**exercise**" in markdown and "_different_" in markdown and "`jira uses`" in markdown
    assert '```python\ndef python():\n    print "likes to be formatted"\n```' in markdown
    assert "[Google](http://www.google.com)" in markdown
    assert "> Someone said somewhere" in markdown
    mention = json.loads(
        (samples / "webhooks/cloud-zulip/comment_created_with_account_mention.json").read_text()
    )
    assert "@[6420c1740152b5f4f9f28a08](accountid:6420c1740152b5f4f9f28a08)" in wiki_to_markdown(
        mention["comment"]["body"]
    )


@pytest.mark.conformance
def test_adf_examples_in_the_cloud_spec_round_trip(samples: Path) -> None:
    spec = json.loads((samples / "specs/jira-cloud-platform-v3.openapi.json").read_text())
    docs: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "doc" and isinstance(node.get("content"), list):
                docs.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert len(docs) > 10
    for document in docs:
        markdown = adf_to_markdown(document)
        assert markdown_to_adf(markdown) == {"version": 1, **document}
        assert to_jira("cloud", markdown, document) is document


def test_adjacent_text_nodes_with_the_same_marks_read_as_one_run() -> None:
    # Jira's editor splits text nodes as it likes (and an edit-preserving write keeps a run's old pieces
    # beside new ones): two code-marked nodes side by side once read as "`a``b`", one code span holding a
    # double backtick, which came back as different text (found by the patch property).
    code = [{"type": "code"}]
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "x "},
        {"type": "text", "text": "@[Z", "marks": code},
        {"type": "text", "text": "](y)", "marks": code},
        {"type": "text", "text": " and "},
        {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
        {"type": "text", "text": "run", "marks": [{"type": "strong"}]},
    ]}]}  # fmt: skip
    local = to_local("cloud", doc)
    assert local == "x `@[Z](y)` and **boldrun**"
    assert to_local("cloud", to_jira("cloud", local)) == local
    assert to_local("server", to_jira("server", local)) == local
