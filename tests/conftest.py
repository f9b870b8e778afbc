"""Shared fixtures. Database-backed tests take ``db_url`` and run on SQLite and PostgreSQL both.

PostgreSQL tests get a schema of their own (dropped afterwards). When PostgreSQL is unreachable they skip,
unless ``JIRA_CONSOLE_REQUIRE_PG=1`` (set by .ci/run), where a skip would hide a failure.

Property tests (Hypothesis) are repeatable by default: every run of the suite tries the same examples, so a
red run can be rerun and a green one means the same thing each time. New examples are searched for on
purpose, with another seed each run::

    HYPOTHESIS_PROFILE=explore .venv/bin/python -m pytest -p no:randomly tests/test_richtext_properties.py \
        tests/test_richtext_patch_properties.py --hypothesis-seed=$RANDOM

and whatever such a search finds becomes an ``@example`` in the test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Autouse everywhere: a CLI command run in process points logging at CliRunner's stream, and a later test in
# the same worker (a daemon's log read through capfd) would lose its lines into it.
from tests.cli_isolation import fresh_cli_state, restore_logging  # noqa: F401

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.store",
    "tests.fixtures.sync",
    "tests.fixtures.api",
    "tests.fixtures.heartbeat",
]

PG_URL = os.environ.get("JIRA_CONSOLE_TEST_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "jira-samples"
CANARY_TOKEN = "canary-7f3e9d1c-SECRET-TOKEN-do-not-log"


@pytest.fixture(autouse=True)
def _toasts_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's toasts (notifications without a timeout of their own) stay for the whole test: they
    leave after 5 s of wall clock, and on a loaded machine a test that looked for one (or a screenshot that
    showed one) came too late."""
    from jira_console.tui.app import JiraConsoleApp

    monkeypatch.setattr(JiraConsoleApp, "NOTIFICATION_TIMEOUT", 3600)


@pytest.fixture(autouse=True)
def _secrets_of_this_test() -> Iterator[None]:
    """Each test starts with the secrets the process knew before it, as a new process would: the registry of
    :mod:`jira_console.redact` lives as long as the process, so a test whose secret was a common word
    (``token``) had it masked in a later test's output on the same worker (``no ****``)."""
    from jira_console import redact

    with redact._lock:
        known, pattern = set(redact._secrets), redact._pattern
    yield
    with redact._lock:
        redact._secrets.clear()
        redact._secrets.update(known)
        redact._pattern = pattern


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001
        return False


_PG_OK: bool | None = None


def pg_ok() -> bool:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = _pg_available()
    return _PG_OK


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema."""
    yield from pg_schema_url()


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped when the generator is closed."""
    if not pg_ok():
        if os.environ.get("JIRA_CONSOLE_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}")
        pytest.skip("PostgreSQL unreachable")
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    raw = PG_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jira-console.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def samples() -> Path:
    """The recorded Jira payloads; conformance tests skip when ../shared is absent."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/jira-samples absent")
    return SAMPLES


@pytest.fixture
def canary_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("JIRA_TEST_TOKEN", CANARY_TOKEN)
    return CANARY_TOKEN
