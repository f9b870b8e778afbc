"""Rich-text conversion benchmark: how long each direction takes per document. Prints JSON.

    .venv/bin/python bench/richtext_bench.py [--repeat 5] [--samples ../shared/jira-samples]

Corpora (all deterministic):

* ``sync``: 20,000 issues as the simulator seeds them (70% carry a one-paragraph description with a bold
  word); ``adf_to_markdown`` over them is the conversion cost of a full sync of 20,000 issues;
* ``generated``: 300 documents of every supported construct (headings, paragraphs with marks, links,
  mentions and emoji, nested lists, code, quotes, tables, rules), 1-4 KB of Markdown each;
* ``samples``: the ADF documents in the Cloud OpenAPI spec and the wiki strings recorded in
  ``../shared/jira-samples`` (skipped when absent).

Each operation is timed over the whole corpus ``--repeat`` times; the best run is reported, as total
milliseconds and microseconds per document. Only the public API of ``jira_console.jira.richtext`` is used,
so the same script measures any version of the package.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jira_console.jira import richtext

ROOT = Path(__file__).resolve().parents[1]
WORDS = "login export search sprint board cache report index token parser widget queue".split()
Node = dict[str, Any]


def sync_corpus(count: int = 20_000) -> list[Node | None]:
    """Descriptions shaped like the simulator's seeded issues (see ``simulator/state.py``)."""
    rng = random.Random(7)
    docs: list[Node | None] = []
    for _ in range(count):
        if rng.random() >= 0.7:
            docs.append(None)
            continue
        text = {"type": "text", "text": f"Users report that {rng.choice(WORDS)} is slow. "}
        bold = {"type": "text", "text": "Steps", "marks": [{"type": "strong"}]}
        docs.append(
            {"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [text, bold]}]}
        )
    return docs


def _text(rng: random.Random) -> Node:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
    marks: list[Node] = []
    roll = rng.random()
    if roll < 0.1:
        marks.append({"type": "link", "attrs": {"href": f"https://example.com/{rng.choice(WORDS)}"}})
    if 0.1 <= roll < 0.2:
        marks.append({"type": "strong"})
    elif 0.2 <= roll < 0.28:
        marks.append({"type": "em"})
    elif 0.28 <= roll < 0.32:
        marks.append({"type": "code"})
    node: Node = {"type": "text", "text": words}
    if marks:
        node["marks"] = marks
    return node


def _inline(rng: random.Random) -> list[Node]:
    out: list[Node] = []
    for k in range(rng.randint(1, 6)):
        if k:
            out.append({"type": "text", "text": rng.choice([" ", ", ", " (", ": "])})
        roll = rng.random()
        if roll < 0.05:
            out.append({"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Ann Lee"}})
        elif roll < 0.08:
            out.append({"type": "emoji", "attrs": {"shortName": ":smile:"}})
        else:
            out.append(_text(rng))
    out.append({"type": "text", "text": rng.choice([".", "!", " and more.", " #42 & 3 * 4 [x] a_b."])})
    return out


def _paragraph(rng: random.Random) -> Node:
    return {"type": "paragraph", "content": _inline(rng)}


def _list(rng: random.Random, depth: int) -> Node:
    items = []
    for _ in range(rng.randint(1, 4)):
        content = [_paragraph(rng)]
        if depth < 2 and rng.random() < 0.25:
            content.append(_list(rng, depth + 1))
        items.append({"type": "listItem", "content": content})
    return {"type": rng.choice(["bulletList", "orderedList"]), "content": items}


def _table(rng: random.Random) -> Node:
    width = rng.randint(2, 4)
    rows = []
    for r in range(rng.randint(2, 5)):
        kind = "tableHeader" if r == 0 else "tableCell"
        cells = [{"type": kind, "attrs": {}, "content": [_paragraph(rng)]} for _ in range(width)]
        rows.append({"type": "tableRow", "content": cells})
    return {"type": "table", "attrs": {"isNumberColumnEnabled": False, "layout": "default"}, "content": rows}


def _block(rng: random.Random) -> Node:
    roll = rng.random()
    if roll < 0.4:
        return _paragraph(rng)
    if roll < 0.5:
        return {"type": "heading", "attrs": {"level": rng.randint(1, 3)}, "content": [_text(rng)]}
    if roll < 0.7:
        return _list(rng, 0)
    if roll < 0.78:
        code = "\n".join(f"x_{k} = call({k}) * 2  # {rng.choice(WORDS)}" for k in range(rng.randint(1, 6)))
        return {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [{"type": "text", "text": code}],
        }
    if roll < 0.86:
        return {"type": "blockquote", "content": [_paragraph(rng)]}
    if roll < 0.9:
        return {"type": "rule"}
    return _table(rng)


def generated_corpus(count: int = 300) -> list[Node]:
    rng = random.Random(11)
    return [
        {"version": 1, "type": "doc", "content": [_block(rng) for _ in range(rng.randint(4, 16))]}
        for _ in range(count)
    ]


def sample_corpus(samples: Path) -> tuple[list[Node], list[str]]:
    """ADF documents from the Cloud spec and wiki strings from recorded payloads ([] when absent)."""
    docs: list[Node] = []
    wiki: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "doc" and isinstance(node.get("content"), list):
                docs.append(node)
                return
            for key, value in node.items():
                here = f"{path}/{key}"
                if isinstance(value, str) and (
                    here.endswith(("/fields/description", "/fields/environment"))
                    or (key == "body" and "comment" in path)
                ):
                    wiki.append(value)
                walk(value, here)
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    spec = samples / "specs/jira-cloud-platform-v3.openapi.json"
    if spec.exists():
        walk(json.loads(spec.read_text(encoding="utf-8")), "spec")
    for folder in ("webhooks", "api"):
        for file in sorted((samples / folder).rglob("*.json")):
            walk(json.loads(file.read_text(encoding="utf-8")), file.name)
    return docs, wiki


def best(repeat: int, items: list[Any], op: Callable[[Any], Any]) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            op(item)
        times.append(time.perf_counter() - started)
    total = min(times)
    return {"ms": round(total * 1000, 2), "us_per_doc": round(total * 1e6 / max(1, len(items)), 2)}


def measure_corpus(adf_docs: list[Any], wiki_docs: list[str], repeat: int) -> dict[str, Any]:
    markdown = [richtext.adf_to_markdown(d) for d in adf_docs]
    wiki = wiki_docs or [richtext.markdown_to_wiki(m) for m in markdown]
    out: dict[str, Any] = {
        "documents": len(adf_docs),
        "markdown_kb": round(sum(map(len, markdown)) / 1024, 1),
    }
    out["adf_to_markdown"] = best(repeat, adf_docs, richtext.adf_to_markdown)
    out["markdown_to_adf"] = best(repeat, markdown, richtext.markdown_to_adf)
    out["markdown_to_wiki"] = best(repeat, markdown, richtext.markdown_to_wiki)
    out["wiki_to_markdown"] = best(repeat, wiki, richtext.wiki_to_markdown)
    pairs = list(zip(markdown, adf_docs, strict=True))
    out["to_jira_cloud_unchanged"] = best(repeat, pairs, lambda p: richtext.to_jira("cloud", p[0], p[1]))
    out["to_jira_cloud_changed"] = best(repeat, pairs, lambda p: richtext.to_jira("cloud", p[0] + " x", p[1]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "jira-samples")
    args = p.parse_args()
    sync_docs = sync_corpus()
    results: dict[str, Any] = {
        "sync_20k_adf_to_markdown": best(args.repeat, sync_docs, richtext.adf_to_markdown),
        "generated": measure_corpus(generated_corpus(), [], args.repeat),
    }
    spec_docs, recorded_wiki = sample_corpus(args.samples)
    if spec_docs:
        results["samples"] = measure_corpus(spec_docs, recorded_wiki, args.repeat)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
