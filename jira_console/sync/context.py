"""What every sync step of one connection works with: :class:`SyncContext`, the frozen facts about the
connection (configuration, flavor, fields, codecs, mappings, strategies), rebuilt whenever they change; and
:class:`SyncIO`, the handles the steps use (database, Jira client, event sink)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jira_console import events as ev
from jira_console.config import JiraConnection
from jira_console.jira import JiraClient
from jira_console.mapping import MappingContext
from jira_console.store.db import Database
from jira_console.sync.clock import JiraClock
from jira_console.sync.fields import CodecContext, FieldCodec, Flavor, combine, core_codecs

ISSUES_SCOPE = "issues"
"""The ``sync_state`` scope of the issue sync (its watermark, lease and run status)."""

META_FIELDS = ("updated", "created", "project", "issuetype")
"""Jira fields every read asks for besides the synced ones (versioning and the pull-only columns)."""


@dataclass(frozen=True)
class SyncContext:
    """The facts of one prepared connection. Never mutated: :meth:`build` and :meth:`with_mappings` make a
    new one (after ``prepare``, after a mapping edit), so a step holding one sees a consistent set."""

    conn: JiraConnection
    flavor: Flavor
    discovered: Mapping[str, str]
    """Field role (``sprint``, ``story_points``, ...) -> the site's field id."""
    field_list: tuple[Any, ...]
    """The site's ``/field`` list, as the client returned it."""
    mapped: tuple[FieldCodec, ...]
    """The compiled mappings in use."""
    mapping_ctx: MappingContext
    codecs: tuple[FieldCodec, ...]
    """Core fields plus mappings: every synced field."""
    codec_ctx: CodecContext
    strategies: Mapping[str, str]
    """Field -> conflict strategy, where a field sets its own."""
    default_strategy: str
    actor: str
    """Who the audit log names for the sync's own changes."""
    jira_fields: tuple[str, ...]
    """The Jira fields to request when reading issues."""
    estimation: Mapping[str, str] = field(default_factory=dict)
    """Project key -> the field its board estimates with (story points)."""

    @property
    def name(self) -> str:
        return self.conn.name

    @classmethod
    def build(
        cls,
        conn: JiraConnection,
        flavor: Flavor,
        discovered: Mapping[str, str],
        field_list: Sequence[Any],
        *,
        mapped: Sequence[FieldCodec] = (),
        mapping_ctx: MappingContext | None = None,
        estimation: Mapping[str, str] | None = None,
    ) -> SyncContext:
        codecs = tuple(combine(core_codecs(flavor, discovered, estimation), list(mapped)))
        wanted = {f for c in codecs for f in getattr(c, "jira_fields", (c.jira_field,)) if f != "*"}
        return cls(
            conn=conn,
            flavor=flavor,
            discovered=dict(discovered),
            field_list=tuple(field_list),
            mapped=tuple(mapped),
            mapping_ctx=replace(
                mapping_ctx or MappingContext(flavor=flavor), rich_text_policy=conn.rich_text_policy
            ),
            codecs=codecs,
            codec_ctx=CodecContext(flavor, rich_text_policy=conn.rich_text_policy),
            strategies={c.name: c.strategy for c in codecs if c.strategy},
            default_strategy=conn.conflict_strategy,
            actor=f"sync:{conn.name}",
            jira_fields=tuple(sorted(wanted | set(META_FIELDS))),
            estimation=dict(estimation or {}),
        )

    def with_mappings(self, mapped: Sequence[FieldCodec], mapping_ctx: MappingContext) -> SyncContext:
        """The same connection with other compiled mappings."""
        return SyncContext.build(
            self.conn, self.flavor, self.discovered, self.field_list,
            mapped=mapped, mapping_ctx=mapping_ctx, estimation=self.estimation,
        )  # fmt: skip


@dataclass(frozen=True)
class SyncIO:
    """The handles of one connection's sync: its database, its Jira client, where events go, and which
    sprint versions were already written (the same few sprints come with every page)."""

    db: Database
    client: JiraClient
    emit: Callable[[ev.EngineEvent], None]
    sprints_written: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    clock: JiraClock = field(default_factory=JiraClock)
    """Jira's current time as far as is known (``serverTime`` at each run's start)."""
