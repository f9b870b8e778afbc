"""Logging: structured records and stdlib records both reach the handler, secrets scrubbed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from jira_console import logs, redact


def test_structlog_and_stdlib_records_are_scrubbed(tmp_path: Path, canary_token: str) -> None:
    redact.register(canary_token)
    out = tmp_path / "log.jsonl"
    logs.configure("INFO", "json", str(out))
    try:
        logs.get_logger("t").warning(
            "sync failed", error=f"401 with token {canary_token}", token=canary_token
        )
        logging.getLogger("httpx").warning("Authorization: Bearer %s", canary_token)
        try:
            raise RuntimeError(f"boom {canary_token}")
        except RuntimeError:
            logging.getLogger("x").exception("failed")
    finally:
        for h in logging.getLogger().handlers:
            h.flush()
    text = out.read_text()
    assert canary_token not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["event"] == "sync failed" and "****" in lines[0]["error"]
    assert any("Authorization: Bearer ****" in str(line.get("event")) for line in lines)
    assert any("boom ****" in json.dumps(line) for line in lines)


def test_a_short_secret_is_masked_where_it_stands_alone_not_inside_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redact, "_secrets", set())  # registered for this test only
    monkeypatch.setattr(redact, "_pattern", None)
    # A weak webhook secret such as "short" must not turn "shorter" into "****er" in every message (that
    # garbles the text and shows where the secret occurs); standing alone it is still masked.
    redact.register("short")
    warning = "the current webhook secret is shorter than 16 characters"
    assert redact.scrub(warning) == warning
    assert redact.scrub("secret=short; x") == "secret=****; x"
    assert redact.scrub('"short"') == '"****"'
    long_secret = "s3cr3t-abcdefghijkl"
    redact.register(long_secret)
    assert redact.scrub(f"x{long_secret}y") == "x****y"  # a long one is masked wherever it appears
