"""The console's protocol, the real facade and the console tests' fake agree, method by method: same
parameters (names, kinds, defaults), same resolved types, same sync/async-ness. mypy checks the same
statically (``_engine_is_a_console_engine`` in the facade, ``_fake_is_a_console_engine`` in the fake);
this test also catches a default or a parameter name drifting, which mypy lets through."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

from jira_console.facade import ConsoleEngine, Engine
from tests.fakes.engine import FakeEngine

MEMBERS = sorted(name for name in vars(ConsoleEngine) if not name.startswith("_"))


def _shape(function: Callable[..., Any]) -> tuple[Any, ...]:
    hints = typing.get_type_hints(function)
    parameters = [
        (p.name, p.kind, p.default, hints.get(p.name))
        for p in inspect.signature(function).parameters.values()
        if p.name != "self"
    ]
    return inspect.iscoroutinefunction(function), parameters, hints.get("return")


def test_the_protocol_is_what_the_console_uses() -> None:
    # A method the console stopped using, or one it uses without the protocol naming it, shows up here
    # (the second through mypy); the list is the contract the fake and the facade are held to.
    assert MEMBERS == [
        "attach",
        "audit_log",
        "conflict_marker",
        "connections",
        "creation_counts",
        "daemons",
        "engine_state",
        "field_error_counts",
        "get_webhook_event",
        "known_names",
        "list_conflicts",
        "list_creations",
        "list_mappings",
        "list_webhook_events",
        "listener_status",
        "local_edit_counts",
        "mapping_from_toml",
        "mapping_to_toml",
        "mode",
        "outbox_counts",
        "preview_mapping",
        "push_resolved",
        "read_value",
        "recent_field_errors",
        "resolve_conflict",
        "resolve_conflicts",
        "retry_webhook_event",
        "run_here",
        "run_sync",
        "save_mapping",
        "set_identity",
        "subscribe",
        "sync_states",
        "undo",
        "unresolved_people",
        "webhook_stats",
    ]


@pytest.mark.parametrize("name", [m for m in MEMBERS if m != "mode"])
@pytest.mark.parametrize("implementation", [Engine, FakeEngine], ids=["facade", "fake"])
def test_methods_match_the_protocol(implementation: type, name: str) -> None:
    expected = _shape(getattr(ConsoleEngine, name))
    assert _shape(getattr(implementation, name)) == expected


def test_mode_is_a_mode_on_both() -> None:
    returns = typing.get_type_hints(ConsoleEngine.mode.fget)["return"]  # type: ignore[attr-defined]
    assert typing.get_type_hints(Engine.mode.fget)["return"] == returns
    assert typing.get_type_hints(FakeEngine.__init__)["mode"] == returns
    assert FakeEngine(mode="attached").mode == "attached"


def test_the_fakes_other_methods_match_the_facade_where_both_have_them() -> None:
    """Helpers only tests call (``add_conflict``, ``process_webhook``) are the fake's own; a method the
    facade has too must look the same, so a test using it means what it would against the engine."""
    shared = [
        name
        for name, value in vars(FakeEngine).items()
        if callable(value) and not name.startswith("_") and hasattr(Engine, name) and name not in MEMBERS
    ]
    assert shared == ["emit", "count_conflicts", "get_conflict"]
    for name in shared:
        assert _shape(getattr(FakeEngine, name)) == _shape(getattr(Engine, name)), name
