"""The lifecycle campaign's CI slice (same code as bench/lifecycle_campaign.py): moves, a project key rename,
deletions racing late, duplicated, reordered updates, lost deliveries, issueErrors, forged future times and
a clock step back, then the audit, once per flavor on each database."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL, pg_ok

ROOT = Path(__file__).resolve().parents[1]


def _load():
    if "lifecycle_campaign" in sys.modules:
        return sys.modules["lifecycle_campaign"]
    spec = importlib.util.spec_from_file_location(
        "lifecycle_campaign", ROOT / "bench" / "lifecycle_campaign.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lifecycle_campaign"] = module
    spec.loader.exec_module(module)
    return module


campaign = _load()


@pytest.mark.parametrize(
    ("seed", "backend"), [(3, "sqlite"), (4, "sqlite"), (9, "postgresql"), (8, "postgresql")]
)
async def test_lifecycle_campaign_slice_has_no_finding(seed: int, backend: str) -> None:
    if backend == "postgresql" and not pg_ok():
        pytest.skip("PostgreSQL unreachable")
    result = await campaign.run_one(seed, PG_URL if backend == "postgresql" else None)
    findings = result["findings"]
    assert result["failed"] == [], (result["failed"], findings, result["sync_failures"])
    # The run did what it is for: moves, deletions and local edits happened, deliveries were lost.
    assert findings["moves"] > 0 and findings["deletions"] > 0 and findings["local_edits"] > 0
    assert findings.get("deliveries_lost", 0) > 0  # (seeds chosen so that every fault happens)
