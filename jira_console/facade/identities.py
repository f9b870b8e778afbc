"""The facade's identity desk: the identity table the ``user`` mapping step reads (Jira user <-> the host
program's person), the Jira people the stored issues name and which of them nobody mapped yet, setting and
importing rows, and matching (by e-mail where Jira shows it; display-name matches only proposed, stored
when someone confirms them). Every change bumps the connection's mapping generation: the syncs reload the
table, and the next one re-reads the issues whose people it now resolves."""

from __future__ import annotations

import asyncio
import contextlib

from jira_console import events as ev
from jira_console.config import Settings
from jira_console.facade.runner import Runner
from jira_console.mapping.people import (
    IDENTITY_COLUMNS,
    PEOPLE_COLUMNS,
    JiraPerson,
    LocalPerson,
    MatchResult,
    as_person,
    email_problem,
    match,
    merge,
    people_in,
    read_csv,
)
from jira_console.store import catalog
from jira_console.store import converters as cv
from jira_console.store import models as m
from jira_console.store.db import Database
from jira_console.store.mapping_state import bump_generation


class IdentityMethods:
    """Mixed into the facade (through its mapping methods)."""

    settings: Settings
    db: Database
    runner: Runner

    def emit(self, event: ev.EngineEvent) -> None:
        raise NotImplementedError

    def _flavor_of(self, connection: str) -> str:
        from jira_console.store import repo

        with self.db.session() as s:
            flavor = repo.stored_flavor(s, connection)
        conn = self.settings.connection(connection)
        return flavor or (conn.flavor if conn.flavor != "auto" else "cloud")

    def identities(self, connection: str) -> list[cv.IdentityRecord]:
        """The identity table of ``connection``, by Jira user."""
        with self.db.session() as s:
            return catalog.list_identities(s, connection)

    def people_seen(self, connection: str) -> list[JiraPerson]:
        """Every Jira user the stored issues of ``connection`` name (assignees, user fields), by name."""
        flavor = self._flavor_of(connection)
        found: list[JiraPerson] = []
        with self.db.session() as s:
            rows = s.query(m.Issue.raw).filter(m.Issue.connection == connection, m.Issue.deleted.is_(False))
            for (raw,) in rows:
                found.extend(people_in((raw or {}).get("fields") or {}, flavor))
        people = merge(found)
        return sorted(people.values(), key=lambda p: ((p.display_name or "").casefold(), p.jira_user))

    def unresolved_people(self, connection: str) -> list[JiraPerson]:
        """The people the issues name whom the identity table does not link to an e-mail or internal id."""
        known = {r.jira_user for r in self.identities(connection) if r.email or r.internal_id}
        return [p for p in self.people_seen(connection) if p.jira_user not in known]

    def _changed(self, connection: str) -> None:
        with self.db.session(write=True) as s:
            bump_generation(s, connection)

    async def set_identity(
        self,
        connection: str,
        jira_user: str,
        *,
        email: str | None = None,
        internal_id: str | None = None,
        display_name: str | None = None,
    ) -> cv.IdentityRecord:
        """Link a Jira user (accountId on Cloud, user name on Server) to an e-mail and/or internal id; only
        the values given are written. Returns the stored row."""
        if not jira_user.strip():
            raise ValueError("the Jira user (accountId or user name) must not be empty")
        if email is None and internal_id is None and display_name is None:
            raise ValueError("give an e-mail, an internal id or a display name to store")
        if (problem := email_problem(email)) is not None:
            raise ValueError(problem)

        def write() -> cv.IdentityRecord:
            with self.db.session(write=True) as s:
                catalog.upsert_identity(
                    s, connection, jira_user, email=email, internal_id=internal_id, display_name=display_name
                )
                bump_generation(s, connection)
            with self.db.session() as s:
                found = catalog.find_identity(s, connection, jira_user=jira_user)
            assert found is not None  # written just above
            return found

        record = await asyncio.to_thread(write)
        await self.runner.reload_mappings(connection)
        return record

    async def import_identities(self, connection: str, text: str) -> int:
        """Store every row of a CSV file (header: jira_user plus any of email, internal_id, display_name), all
        or nothing; ValueError naming the line of a bad row. Returns how many rows were stored."""
        rows = read_csv(text, IDENTITY_COLUMNS, "jira_user")

        def write() -> None:
            with self.db.session(write=True) as s:
                for row in rows:
                    catalog.upsert_identity(
                        s, connection, str(row["jira_user"]), email=row["email"],
                        internal_id=row["internal_id"], display_name=row["display_name"],
                    )  # fmt: skip
                bump_generation(s, connection)

        await asyncio.to_thread(write)
        await self.runner.reload_mappings(connection)
        return len(rows)

    async def match_identities(
        self, connection: str, people_csv: str | None = None, *, accept_proposals: bool = False
    ) -> MatchResult:
        """Match the unresolved people of ``connection``: by e-mail where Jira shows it (on the issues, or
        asked now when this process has a client), to the local people of ``people_csv`` (header:
        internal_id, email, display_name) when given. E-mail matches are stored; display-name matches are
        only proposed, and stored with ``accept_proposals`` (the operator confirmed them)."""
        local = (
            [LocalPerson(**r) for r in read_csv(people_csv, PEOPLE_COLUMNS, "internal_id")]
            if people_csv
            else []
        )
        pending = await asyncio.to_thread(self.unresolved_people, connection)
        people = [await self._with_email(connection, p) for p in pending]
        result = match(people, local)
        store = [
            (p, lp.email if lp else p.email, lp.internal_id if lp else None) for p, lp in result.by_email
        ]
        if accept_proposals:
            store += [(p, lp.email, lp.internal_id) for p, lp in result.proposals]

        def write() -> None:
            with self.db.session(write=True) as s:
                for person, email, internal_id in store:
                    catalog.upsert_identity(
                        s, connection, person.jira_user, email=email, internal_id=internal_id,
                        display_name=person.display_name,
                    )  # fmt: skip
                if store:
                    bump_generation(s, connection)

        await asyncio.to_thread(write)
        if store:
            await self.runner.reload_mappings(connection)
        return result

    async def _with_email(self, connection: str, person: JiraPerson) -> JiraPerson:
        """The person with the e-mail Jira shows for them now (asked only when the issues did not show one
        and this process has a Jira client); unchanged when Jira hides it or cannot be asked."""
        if person.email or self.runner.mode != "inprocess":
            return person
        flavor = self._flavor_of(connection)
        with contextlib.suppress(Exception):  # unreachable, or no such user any more: stays unresolved
            client = self.runner.client(connection)
            if flavor == "cloud":
                shown = await client.user(account_id=person.jira_user)
            else:
                shown = await client.user(name=person.jira_user)
            found = as_person(shown, flavor)
            if found is not None and found.email:
                return JiraPerson(person.jira_user, person.display_name or found.display_name, found.email)
        return person
