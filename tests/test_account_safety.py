"""Account safety (issue 11, item 9) against the simulator, both flavors and both databases: once Jira
denies the Basic credentials (a 401, or Server/DC's CAPTCHA 403 after three failed logins), no process sends
them again until the configuration changes or an operator runs ``config check``; the console's status,
``status`` and ``config check`` say so in plain words."""

from __future__ import annotations

import httpx
import pytest

from jira_console.config import Settings
from jira_console.facade import Engine, check_connections
from jira_console.jira.errors import JiraAuthError
from jira_console.simulator.logins import CAPTCHA_AFTER

FLAVORS = ["cloud", "server"]


def _auth_requests(sim) -> int:
    return sum(1 for r in sim.requests if r["status"] in (401, 403))


async def _sync_fails(engine: Engine) -> str:
    with pytest.raises(JiraAuthError) as caught:
        await engine.run_sync()
    return str(caught.value)


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_denied_basic_credentials_are_sent_once_by_any_process(
    engine_factory, db_url, flavor, monkeypatch
) -> None:
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    engine, sim = await engine_factory(flavor, conn={"token_env": "WRONG_TOKEN"})
    await _sync_fails(engine)
    assert _auth_requests(sim) == 1
    user = sim.credentials["basic"][0]
    # The daemon's next intervals, and another process on the same store: nothing more reaches Jira.
    for _ in range(CAPTCHA_AFTER + 1):
        assert "stopped sending its Basic credentials" in await _sync_fails(engine)
    other = Engine(engine.settings, owner="other-process")
    await other.start(attach=False)
    try:
        assert "config check" in await _sync_fails(other)
        [status] = other.connections()
        assert status.auth_state == "blocked" and status.verdict == "auth"
        assert status.auth_note is not None and "config check" in status.auth_note
        assert list(other.auth_blocks()) == [engine.settings.jira[0].name]
    finally:
        await other.stop()
    assert _auth_requests(sim) == 1
    assert sim.logins.failures(user) == (1 if flavor == "server" else 0)
    assert not sim.logins.locked(user)


@pytest.mark.parametrize("flavor", ["server"])
async def test_a_captcha_holds_back_the_right_password_until_config_check(
    engine_factory, db_url, flavor
) -> None:
    engine, sim = await engine_factory(flavor)
    user = sim.credentials["basic"][0]
    async with httpx.AsyncClient() as other:
        for _ in range(CAPTCHA_AFTER):  # someone else got the password wrong three times
            await other.get(f"{sim.url}/rest/api/2/myself", auth=(user, "wrong"))
    assert sim.logins.locked(user)
    message = await _sync_fails(engine)
    assert "CAPTCHA_CHALLENGE" in message and "config check" in message
    await _sync_fails(engine)
    assert sim.logins.denied_attempts == 1  # one denial, then silence
    # Before the CAPTCHA is answered, config check tries once and says what is wrong.
    [result] = await check_connections(engine.settings, engine.db)
    assert not result["ok"] and "CAPTCHA" in result["summary"]
    assert sim.logins.denied_attempts == 2
    sim.logins.unlock(user)  # the operator logged in once in a browser
    [result] = await check_connections(engine.settings, engine.db)
    assert result["ok"], result
    assert "resumed" in result
    [report] = await engine.run_sync()
    assert report.status == "ok"


@pytest.mark.parametrize("flavor", FLAVORS)
async def test_a_changed_configuration_lifts_the_block(engine_factory, db_url, flavor, monkeypatch) -> None:
    monkeypatch.setenv("WRONG_TOKEN", "not-the-token")
    engine, sim = await engine_factory(flavor, conn={"token_env": "WRONG_TOKEN"})
    await _sync_fails(engine)
    fixed = engine.settings.jira[0].model_copy(update={"token_env": "JIRA_SIM_TOKEN"})
    settings = Settings(database={"url": db_url}, jira=[fixed.model_dump()])
    again = Engine(settings, owner="after-the-fix")
    await again.start(attach=False)
    try:
        [report] = await again.run_sync()
        assert report.status == "ok"
        assert again.auth_blocks() == {}
    finally:
        await again.stop()


@pytest.mark.parametrize(
    ("status", "headers", "denied"),
    [
        (403, {"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"}, "AUTHENTICATION_DENIED"),  # no reason header
        (403, {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}, "AUTHENTICATED_FAILED"),
        (403, {"X-Seraph-LoginReason": "AUTHORISATION_FAILED"}, None),  # a permission, not the login
        (403, {"X-Seraph-LoginReason": "OK"}, None),
        (403, {}, None),
        (401, {}, "401: credentials rejected"),
        (403, {"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE; login-url=x"}, "CAPTCHA_CHALLENGE"),
    ],
)
def test_which_answers_deny_the_credentials(status, headers, denied) -> None:
    from jira_console.jira.shared import auth_denial

    assert auth_denial(status, headers, "{}") == denied
