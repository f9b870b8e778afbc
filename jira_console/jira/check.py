"""``jira-console config check``: can this connection reach Jira, log in, read and write what it syncs?"""

from __future__ import annotations

from typing import Any

from jira_console import redact
from jira_console.config import JiraConnection
from jira_console.jira.client import JiraClient
from jira_console.jira.errors import CircuitOpenError, JiraAuthError, JiraError, JiraUnavailable
from jira_console.jira.shared import CredentialsBlocked, SharedGuard

PERMISSIONS = ("BROWSE_PROJECTS", "EDIT_ISSUES", "TRANSITION_ISSUES")

_NOT_JIRA = (
    " — no Jira REST API answers under {url}: give the address Jira opens at in a browser, with its context"
    " path if it has one (such as https://host/jira)"
)


async def _probe_jql(client: JiraClient, jql: str) -> None:
    """One search of one issue with ``jql`` (the caller passes it as the sync will send it: the scope
    wrapped in parentheses and bounded in time), so Jira parses what it will be sent."""
    pages = client.search_pages(jql, fields=["key"], page_size=1)
    try:
        await anext(pages)
    except StopAsyncIteration:
        pass
    finally:
        await pages.aclose()  # type: ignore[attr-defined]


async def check_connection(
    conn: JiraConnection, shared: SharedGuard | None = None, sent_jql: str | None = None
) -> dict[str, Any]:
    """Check token, auth, flavor/version, permissions and the JQL; never raises for Jira or network errors."""
    result: dict[str, Any] = {
        "name": conn.name,
        "ok": False,
        "summary": "",
        "flavor": None,
        "version": None,
        "user": None,
        "problems": [],
    }
    problems: list[str] = result["problems"]
    token = conn.resolve_token()
    if token is None:
        problems.append(f"no token found: {conn.token_hint()}")
        result["summary"] = "no token"
        return result
    try:
        async with JiraClient(conn, token=token) as client:
            client.shared = shared
            client.retry_lasting = False  # a check says such a cause at once (the sync keeps retrying)
            try:
                info = await client.server_info()
                result["flavor"], result["version"] = info.flavor, info.version
                pinned = info.pinned_problem(conn.flavor)
                if pinned is not None:
                    problems.append(pinned)
            except JiraAuthError:
                raise
            except JiraUnavailable as exc:  # nothing answered: each further call would say the same
                problems.append(f"serverInfo: {_cause(exc)}")
                result["summary"] = problems[0]
                return result
            except JiraError as exc:
                hint = _NOT_JIRA.format(url=conn.url) if exc.status == 404 else ""
                problems.append(f"serverInfo: {exc}{hint}")
                await client.ensure_flavor()
                result["flavor"] = client.flavor
            me = await client.myself()
            result["user"] = next(
                (me[k] for k in ("emailAddress", "name", "accountId", "displayName") if me.get(k)), None
            )
            try:
                resp = await client.request(
                    "GET", f"{client.api}/mypermissions", params={"permissions": ",".join(PERMISSIONS)}
                )
                granted = resp.json().get("permissions") or {}
                missing = [p for p in PERMISSIONS if not (granted.get(p) or {}).get("havePermission")]
                if missing:
                    problems.append(f"missing permissions: {', '.join(missing)}")
            except JiraError as exc:
                problems.append(f"permissions check failed: {exc}")
            try:
                await _probe_jql(client, sent_jql or conn.jql)
            except JiraError as exc:
                problems.append(f"JQL {conn.jql!r} was refused: {exc}")
    except CredentialsBlocked as exc:
        problems.append(exc.messages[0] if exc.messages else str(exc))
    except JiraAuthError as exc:
        problems.append(f"authentication failed ({conn.auth}): {exc}")
    except JiraError as exc:
        problems.append(_cause(exc) if isinstance(exc, JiraUnavailable) else str(exc))
    except Exception as exc:  # noqa: BLE001 - the check reports, it does not crash the CLI
        problems.append(redact.scrub(f"{type(exc).__name__}: {exc}"))
    result["ok"] = not problems
    if result["ok"]:
        result["summary"] = f"{result['flavor']} {result['version']} as {result['user']}"
    else:
        result["summary"] = problems[0]
    return result


def _cause(exc: JiraUnavailable) -> str:
    """A call that got no answer, by what went wrong: when the retries opened the breaker, the last failure
    (a refused connection, a host name that does not resolve) rather than the breaker's countdown."""
    if isinstance(exc, CircuitOpenError) and exc.last_failure:
        return f"{exc.method} {exc.path} -> no response: {exc.last_failure}"
    return str(exc)
