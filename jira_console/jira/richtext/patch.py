"""Edit-preserving writes: a local Markdown change applied to the previous Jira document as a patch.

The previous document is cut into *units*: the blocks its Markdown shows one by one (a paragraph, a heading,
a list, a table, ...). Containers Markdown cannot draw (panels, expands, task lists, layouts, wiki
``{panel}``) are transparent: their inner blocks are units of their own, so a word changed inside a panel
changes that paragraph and keeps the panel. Units and the blocks of the new Markdown are aligned by their
canonical Markdown (:func:`plan`):

* a unit whose Markdown is unchanged is kept as it is in Jira, byte for byte;
* a unit paired with a changed block of the same shape is patched (its inline content aligned, see
  :mod:`.align`; lists, tables and quotes recursively);
* other units are deleted and other blocks inserted, rendered fresh.

Whatever a patch would destroy that Markdown cannot show (a task item, a status lozenge, a panel, an image,
a wiki macro) is handled by the :data:`Policy`: ``"preserve"`` (the default) keeps Jira's content for the
affected block and reports it (:attr:`Patched.kept`); ``"markdown_wins"`` lets the local text win.
Format back ends: :mod:`.adf_patch` (Cloud) and :mod:`.wiki_patch` (Server/DC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal, Protocol

from jira_console.jira.richtext.md_write import render_markdown
from jira_console.jira.richtext.tree import Block, Paragraph, Text, inline_text, plain_text

Policy = Literal["preserve", "markdown_wins"]
POLICIES: tuple[Policy, ...] = ("preserve", "markdown_wins")


@dataclass
class Patched:
    """The value to write and what was kept from Jira instead of the local text (empty: nothing)."""

    value: Any
    kept: list[str] = field(default_factory=list)

    def message(self) -> str:
        """One line for a field error (empty when nothing was kept)."""
        if not self.kept:
            return ""
        return "kept Jira's content Markdown cannot show: " + "; ".join(self.kept)


@dataclass
class Unit:
    """One block of the previous document as Markdown shows it."""

    key: str
    """Its canonical Markdown."""
    block: Block
    """Its tree reading."""
    ref: Any
    """What the format back end needs to keep, patch or drop it."""
    precious: list[str] = field(default_factory=list)
    """What deleting it would lose that Markdown cannot show (labels for a message)."""


@dataclass
class Step:
    """One step of a plan: keep ``unit``, pair it with ``block``, delete it, or insert ``blocks`` after unit
    index ``after`` (-1: before the first)."""

    op: Literal["keep", "pair", "delete", "insert"]
    unit: int = -1
    block: Block | None = None
    blocks: list[Block] = field(default_factory=list)
    after: int = -1
    group: int = 0
    """Steps of one replaced range share a group: when a unit of it must be kept, its new blocks are not
    inserted (the local change to that range is not applied)."""


@dataclass
class Context:
    """The policy and what was kept so far, shared by a whole patch."""

    policy: Policy = "preserve"
    kept: list[str] = field(default_factory=list)

    def keep(self, what: list[str], where: str) -> bool:
        """True (and recorded) when ``what`` must be kept under the policy."""
        if not what or self.policy != "preserve":
            return False
        self.kept.append(f"{', '.join(what)} (in {where!r})" if where else ", ".join(what))
        return True


def key(block: Block) -> str:
    """The canonical Markdown of one block, what alignment compares."""
    try:
        return render_markdown([block])
    except RecursionError:
        return plain_text(block)


def title_text(block: Block | None) -> str | None:
    """The text of a paragraph that can be a title (plain words on one line), else None."""
    if not isinstance(block, Paragraph):
        return None
    if not all(isinstance(n, Text) and not n.marks and n.link is None for n in block.content):
        return None
    return inline_text(block.content)


def snippet(block: Block, width: int = 40) -> str:
    text = " ".join(plain_text(block).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def plan(units: list[Unit], blocks: list[Block]) -> list[Step]:
    """Align ``units`` with ``blocks`` (by canonical Markdown) into steps, in document order."""
    new_keys = [key(b) for b in blocks]
    matcher = SequenceMatcher(None, [u.key for u in units], new_keys, autojunk=False)
    steps: list[Step] = []
    for group, (tag, i1, i2, j1, j2) in enumerate(matcher.get_opcodes()):
        if tag == "equal":
            steps.extend(Step("keep", unit=i, group=group) for i in range(i1, i2))
            continue
        paired = 0
        if tag == "replace":
            # pair in order while the shapes match and the texts are alike (an edit, not other text); what
            # remains is deleted or inserted
            one_to_one = i2 - i1 == j2 - j1
            while paired < min(i2 - i1, j2 - j1) and _alike(
                units[i1 + paired], new_keys[j1 + paired], blocks[j1 + paired], one_to_one
            ):
                steps.append(Step("pair", unit=i1 + paired, block=blocks[j1 + paired], group=group))
                paired += 1
        steps.extend(Step("delete", unit=i, group=group) for i in range(i1 + paired, i2))
        if j1 + paired < j2:
            steps.append(Step("insert", blocks=blocks[j1 + paired : j2], after=i2 - 1, group=group))
    return steps


def _alike(unit: Unit, new_key: str, block: Block, one_to_one: bool) -> bool:
    """Whether ``block`` is ``unit`` edited: the same kind of block, in a range where as many blocks were
    replaced as there are new ones, or with mostly the same text."""
    if type(unit.block) is not type(block):
        return False
    if one_to_one:
        return True
    matcher = SequenceMatcher(None, unit.key, new_key, autojunk=False)
    return matcher.real_quick_ratio() >= 0.5 and matcher.quick_ratio() >= 0.5 and matcher.ratio() >= 0.5


class Backend(Protocol):
    """What a format needs to carry out a plan over its units."""

    def pair(self, unit: int, block: Block) -> str:
        """Patch ``unit`` into ``block``: ``"patched"``, ``"kept"`` (the policy kept Jira's content) or
        ``"no"`` (shapes do not fit: replace it instead)."""

    def delete(self, unit: int) -> bool:
        """Drop ``unit``; False when the policy keeps it."""

    def insert(self, after: int, blocks: list[Block]) -> None:
        """Render ``blocks`` after unit ``after`` (-1: before the first unit)."""


def apply_plan(steps: list[Step], backend: Backend) -> None:
    """Carry out ``steps``; a range where something had to be kept gets none of its new blocks."""
    refused: set[int] = set()
    inserts: list[Step] = []
    for step in steps:
        if step.op == "pair" and step.block is not None:
            outcome = backend.pair(step.unit, step.block)
            if outcome == "kept":
                refused.add(step.group)
            elif outcome == "no":
                if backend.delete(step.unit):
                    backend.insert(step.unit, [step.block])
                else:
                    refused.add(step.group)
        elif step.op == "delete" and not backend.delete(step.unit):
            refused.add(step.group)
        elif step.op == "insert":
            inserts.append(step)
    for step in inserts:
        if step.group not in refused:
            backend.insert(step.after, step.blocks)
