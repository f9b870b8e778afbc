"""Edit-preserving rich-text writes over the corpora of ``tests/test_richtext_patch.py``. Prints JSON.

    .venv/bin/python bench/richtext_patch_bench.py [--samples ../shared/jira-samples]

For each corpus (generated ADF with every node and mark type, generated wiki with every construct Markdown
cannot hold, and the ADF and wiki documents recorded in ``--samples`` when present): how many documents,
paragraphs and one-word edits were checked, how many paragraphs could not take an edit because all their
words lie inside constructs Markdown cannot change (Jira's content kept, reported), how many nodes, marks or
wiki constructs were lost (the target is 0), how many edits changed more than that word (the target is 0),
and the mean time of one edit with its checks. ``write cost`` times one patched write alone (the issue's
one-issue example, a word changed) against rendering the same Markdown from scratch, best of 200.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jira_console.jira.richtext import markdown_to_adf, markdown_to_wiki, to_local, write_rich_text  # noqa: E402
from tests.richtext_corpus import (  # noqa: E402 - the corpus lives with the tests that check it
    ONE_ISSUE_WIKI,
    Tally,
    edit_every_paragraph,
    generated_adf,
    generated_wiki,
    one_issue_adf,
    sample_documents,
)


def _best(action: Any, repeat: int = 200) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return round(best * 1e6, 1)


def write_cost() -> list[dict[str, Any]]:
    out = []
    for flavor, value, word in (("cloud", one_issue_adf(), "Hidden"), ("server", ONE_ISSUE_WIKI, "Hidden")):
        edited = to_local(flavor, value).replace(word, "Secret", 1)  # type: ignore[arg-type]
        render = markdown_to_adf if flavor == "cloud" else markdown_to_wiki
        out.append({
            "write cost": flavor,
            "patched_write_us": _best(lambda f=flavor, e=edited, v=value: write_rich_text(f, e, v)),
            "render_from_scratch_us": _best(lambda r=render, e=edited: r(e)),
        })  # fmt: skip
    return out


def run(name: str, flavor: str, documents: list[Any], every_word: bool) -> dict[str, Any]:
    tally = Tally()
    start = time.perf_counter()
    for document in documents:
        edit_every_paragraph(flavor, document, tally, every_word=every_word)
    elapsed = time.perf_counter() - start
    return {
        "corpus": name,
        "documents": tally.documents,
        "paragraphs": tally.paragraphs,
        "edits": tally.edits,
        "paragraphs_kept_whole": tally.kept,
        "lost": sum(tally.lost.values()),
        "failures": len(tally.failures),
        "ms_per_edit_including_checks": round(1000 * elapsed / max(1, tally.edits), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "jira-samples")
    args = parser.parse_args()
    results = [
        run("generated ADF, every word", "cloud", generated_adf(), True),
        run("generated wiki, every word", "server", generated_wiki(), True),
    ]
    if args.samples.is_dir():
        adf, wiki = sample_documents(args.samples)
        results.append(run("recorded ADF, a word per paragraph", "cloud", adf, False))
        results.append(run("recorded wiki, a word per paragraph", "server", wiki, False))
    print(json.dumps(results + write_cost(), indent=2))


if __name__ == "__main__":
    main()
