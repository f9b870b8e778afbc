"""Property-based run of the operations API's OpenAPI document (schemathesis) against a live daemon.

Starts the demo's world headless (two simulated Jira sites, a daemon with its webhook listener and the
operations API, mappings from the templates, a full sync, a few open conflicts), then runs
``schemathesis run`` on ``/api/v1/openapi.json`` with the bearer token: every generated request must get
an answer that is not a 5xx and that matches the document (status, content type, headers, body schema).
Exit status is schemathesis's.

    .venv/bin/python .ci/api_schema.py [--database URL] [--max-examples N] [--seed N] [--phases P,Q]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from jira_console.demo import DEMO_API_TOKEN_ENV, start_demo

# Every check but positive_data_acceptance: a mapping definition has rules JSON Schema cannot state (a
# regex_extract group the pattern must name, an invertible pipeline for a pushing mapping, the site's own
# fields), and "a connection is required when several are configured" depends on the deployment. Such a
# request is answered 422 with the reason, as the document lists; everything else must hold.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]


@contextlib.contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """``url`` itself for SQLite (None: a temporary file); for PostgreSQL, a schema of its own, dropped
    afterwards, so the run starts empty and leaves nothing behind."""
    if url is None or not url.startswith("postgresql"):
        yield url
        return
    import psycopg

    schema = "api_schema_" + uuid.uuid4().hex[:10]
    raw = url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(raw, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def main(args: argparse.Namespace) -> int:
    with fresh_database(args.database) as url:
        return await run(args, url)


async def run(args: argparse.Namespace, database_url: str | None) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="jira-console-api-schema-"))
    rig = await start_demo(
        issues=40, activity_per_second=0, workdir=workdir, api=True, database_url=database_url
    )
    try:
        schema = f"{rig.daemon.api.url}/api/v1/openapi.json"
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            schema,
            "--header",
            f"Authorization: Bearer {os.environ[DEMO_API_TOKEN_ENV]}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(args.max_examples),
            "--workers",
            "1",  # Python 3.11's ast module is not thread-safe, and Hypothesis parses source in workers
            "--request-timeout",
            "30",
            "--output-sanitize",
            "true",
        ]
        if args.seed is not None:
            command += ["--seed", str(args.seed)]
        if args.phases is not None:
            command += ["--phases", args.phases]
        print("api schema run:", schema, flush=True)
        process = await asyncio.create_subprocess_exec(*command)
        return await process.wait()
    finally:
        await rig.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database",
        default=None,
        help="SQLAlchemy URL (default: a temporary SQLite file; PostgreSQL: a new schema)",
    )
    parser.add_argument("--max-examples", type=int, default=40, help="generated cases per operation")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default=None, help="schemathesis phases (default: all)")
    sys.exit(asyncio.run(main(parser.parse_args())))
