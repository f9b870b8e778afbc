"""What a mapping needs to know besides the value itself: flavor, identities, sprints, time zone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class Identity:
    """One person as both sides know them. ``id`` is the internal id of the local database."""

    id: str | None
    """None when the person is linked to no local user yet (an e-mail may still identify them)."""
    email: str | None = None
    account_id: str | None = None
    """Jira Cloud accountId."""
    name: str | None = None
    """Jira Server/DC user name (``name``; ``key`` is matched too when it differs)."""
    key: str | None = None
    display_name: str | None = None


class IdentityResolver(Protocol):
    """Looks people up in both directions; returns None when the person is unknown (never invents one)."""

    def from_jira(self, flavor: str, user: dict[str, Any]) -> Identity | None: ...

    def from_local(self, attribute: str, value: str) -> Identity | None: ...


class IdentityTable:
    """An in-memory :class:`IdentityResolver` over a list of :class:`Identity` rows.

    Matching is exact: accountId on Cloud, name/key on Server, then the e-mail address (case-insensitive) when
    Jira discloses it. Display names are never used for matching because they are neither unique nor stable.
    """

    def __init__(self, rows: Iterable[Identity]) -> None:
        self.rows = tuple(rows)
        self._by_account = {r.account_id: r for r in self.rows if r.account_id}
        self._by_name = {r.name: r for r in self.rows if r.name}
        self._by_name.update({r.key: r for r in self.rows if r.key and r.key not in self._by_name})
        self._by_email = {r.email.lower(): r for r in self.rows if r.email}
        self._by_id = {r.id: r for r in self.rows if r.id}

    def from_jira(self, flavor: str, user: dict[str, Any]) -> Identity | None:
        found = None
        if user.get("accountId"):
            found = self._by_account.get(user["accountId"])
        if found is None and flavor == "server":
            for attr in ("name", "key"):
                if user.get(attr) and found is None:
                    found = self._by_name.get(user[attr])
        if found is None and user.get("emailAddress"):
            found = self._by_email.get(str(user["emailAddress"]).lower())
        return found

    def from_local(self, attribute: str, value: str) -> Identity | None:
        if attribute == "email":
            return self._by_email.get(value.lower())
        return self._by_id.get(value)


@dataclass
class MappingContext:
    """Per-run facts a mapping needs. Plain and cheap to build; steps only read it, except ``unresolved``."""

    flavor: Literal["cloud", "server"] = "cloud"
    identities: IdentityResolver | None = None
    sprint_lookup: Callable[[str], int | None] | None = None
    """Sprint name -> sprint id, for mappings that keep sprint names locally."""
    tz: str = "UTC"
    """Time zone in which local datetimes are expressed (IANA name)."""
    previous: Any = None
    """The previous raw Jira value of the field being written (rich text keeps what Markdown can't hold)."""
    previous_fields: dict[str, Any] | None = None
    """The previous raw Jira ``fields`` of the issue; when set, ``previous`` is taken from it per mapping."""
    unresolved: list[dict[str, Any]] = field(default_factory=list)
    """Users (or sprints) no table could resolve, appended by the steps so a person can fix the table."""
    rich_text_policy: Literal["preserve", "markdown_wins"] = "preserve"
    """What a ``rich_text`` write does when the local edit would drop what Markdown cannot show."""
    notes: list[str] = field(default_factory=list)
    """What ``rich_text`` steps kept from Jira during one write (see ``JiraWrite.note``)."""
