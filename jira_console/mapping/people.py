"""People on both sides: the Jira users the stored issues name, and matching them to the host program's
people for the identity table the ``user`` step reads.

Matching never guesses. A Jira user whose e-mail Jira shows is matched by that e-mail (and to the local
person with the same e-mail, when a list of local people is given). One whose e-mail is hidden is only
*proposed* for the local person with exactly the same display name, for someone to confirm; display names
are neither unique nor stable, so a proposal is never stored on its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

IDENTITY_COLUMNS = ("jira_user", "email", "internal_id", "display_name")
PEOPLE_COLUMNS = ("internal_id", "email", "display_name")


@dataclass(frozen=True)
class JiraPerson:
    """A Jira user as issues show them: ``jira_user`` is the accountId (Cloud) or user name (Server)."""

    jira_user: str
    display_name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class LocalPerson:
    """One of the host program's people."""

    internal_id: str | None
    email: str | None = None
    display_name: str | None = None


@dataclass
class MatchResult:
    """What :func:`match` found: ``by_email`` (safe to store), ``proposals`` (to confirm) and the rest."""

    by_email: list[tuple[JiraPerson, LocalPerson | None]] = field(default_factory=list)
    proposals: list[tuple[JiraPerson, LocalPerson]] = field(default_factory=list)
    unresolved: list[JiraPerson] = field(default_factory=list)


def as_person(value: Any, flavor: str) -> JiraPerson | None:
    """A Jira user object (Cloud: ``accountId``; Server: ``name``/``key``) as a person; None otherwise."""
    if not isinstance(value, Mapping):
        return None
    if flavor == "cloud":
        ident = value.get("accountId")
    else:
        ident = value.get("name") or value.get("key") if "displayName" in value else None
    if not ident or not isinstance(ident, str):
        return None
    email = value.get("emailAddress")
    return JiraPerson(ident, value.get("displayName"), email if isinstance(email, str) and email else None)


def people_in(fields: Mapping[str, Any], flavor: str) -> list[JiraPerson]:
    """Every Jira user an issue's raw ``fields`` name (single user fields and lists of users)."""
    found = []
    for value in fields.values():
        for item in value if isinstance(value, list) else [value]:
            person = as_person(item, flavor)
            if person is not None:
                found.append(person)
    return found


def merge(people: Iterable[JiraPerson]) -> dict[str, JiraPerson]:
    """One entry per Jira user, keeping a known display name and e-mail over an absent one."""
    merged: dict[str, JiraPerson] = {}
    for p in people:
        seen = merged.get(p.jira_user)
        merged[p.jira_user] = (
            p
            if seen is None
            else JiraPerson(p.jira_user, p.display_name or seen.display_name, p.email or seen.email)
        )
    return merged


def match(people: Iterable[JiraPerson], local: Iterable[LocalPerson] = ()) -> MatchResult:
    """Match Jira people to local ones: by e-mail where Jira shows it; else propose the local person whose
    display name is exactly the same (case-insensitive) when exactly one is; else unresolved."""
    local = list(local)
    by_email = {p.email.casefold(): p for p in local if p.email}
    names: dict[str, list[LocalPerson]] = {}
    for p in local:
        if p.display_name:
            names.setdefault(p.display_name.strip().casefold(), []).append(p)
    result = MatchResult()
    for person in people:
        if person.email:
            result.by_email.append((person, by_email.get(person.email.casefold())))
            continue
        same = names.get((person.display_name or "").strip().casefold(), [])
        if len(same) == 1:
            result.proposals.append((person, same[0]))
        else:
            result.unresolved.append(person)
    return result


def email_problem(email: str | None) -> str | None:
    """Why ``email`` cannot be an e-mail address (one ``@`` between a name and a domain, no spaces), or None
    (None too when there is none). Identities are matched on it: a typo would silently match nobody."""
    if email is None:
        return None
    name, at, domain = email.partition("@")
    if not (name and at and domain) or "@" in domain or any(c.isspace() for c in email):
        return f"{email!r} is not an e-mail address"
    return None


def read_csv(text: str, columns: tuple[str, ...], required: str) -> list[dict[str, str | None]]:
    """Rows of a CSV file with a header naming some of ``columns`` (``required`` among them); ValueError
    naming the line for anything else."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in columns]
    if required not in header or unknown:
        raise ValueError(
            f"the header must name {required!r} and only columns of {', '.join(columns)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v.strip() or None) if isinstance(v, str) else None for k, v in raw.items() if k}
        if None in raw:
            raise ValueError(f"line {line}: more values than columns")
        if not row.get(required):
            raise ValueError(f"line {line}: {required} is empty")
        if (problem := email_problem(row.get("email"))) is not None:
            raise ValueError(f"line {line}: {problem}")
        rows.append({c: row.get(c) for c in columns})
    return rows


def to_csv(rows: Iterable[Any]) -> str:
    """Identity rows (anything with the :data:`IDENTITY_COLUMNS` attributes) as the CSV :func:`read_csv`
    reads back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IDENTITY_COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, c) or "" for c in IDENTITY_COLUMNS])
    return out.getvalue()
