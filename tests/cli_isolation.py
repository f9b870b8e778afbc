"""Fixtures for tests that run the CLI in process. The CLI points logging at CliRunner's stderr, which is
closed when the command ends: later tests in the same worker would log into it. And a command leaves its
options in the CLI's module state (``--json``): a later test calling a CLI helper directly would see them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from jira_console.cli.common import state


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(**config)


@pytest.fixture(autouse=True)
def fresh_cli_state() -> Iterator[None]:
    saved = dict(vars(state))
    for name in list(vars(state)):
        delattr(state, name)  # the class defaults: no command has run
    yield
    vars(state).clear()
    vars(state).update(saved)
