"""Issue 13: the mapping loop from the CLI against the simulator, both flavors and both databases: import
refuses a field the site lacks (naming the closest candidates) and an option the field does not allow
(without --issue); validate and test take a file before it is imported; disable, enable and delete by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jira_console.cli import app
from jira_console.mapping import repo as mrepo
from jira_console.simulator.model import TEAM_OPTIONS
from jira_console.store.db import Database
from tests.fixtures.simulator import connection_for

TYPO = """
[[mapping]]
name = "points"
jira_field = { name = "Story Pointz" }
internal_field = "points"
steps = [{ op = "to_float" }]
"""

BAD_OPTION = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [{ op = "option" }, { op = "value_map", table = { Backend = "be", Backnd = "bx" } }]
"""

GOOD = """
[[mapping]]
name = "team"
jira_field = { schema_custom = "com.atlassian.jira.plugin.system.customfieldtypes:select", name = "Team" }
internal_field = "team"
steps = [
  { op = "option" },
  { op = "value_map", table = { Backend = "be", Frontend = "fe", Platform = "pl" } },
]
"""


@pytest.fixture
def cli(tmp_path: Path, sim_factory, monkeypatch, db_url, request):
    flavor = request.param
    sim = sim_factory(flavor, issues=12)
    conn = connection_for(sim, monkeypatch)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n[[jira]]\nname = "s"\nurl = "{conn.url}"\n'
        f'user = "{conn.user}"\ntoken_env = "{conn.token_env}"\n'
    )
    cfg.chmod(0o600)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--config", str(cfg), *args])

    run.sim = sim  # type: ignore[attr-defined]
    run.db_url = db_url  # type: ignore[attr-defined]
    return run


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / f"m{abs(hash(text))}.toml"
    path.write_text(text)
    return str(path)


def _stored(db_url: str) -> list[tuple[str, str | None, bool, int]]:
    with Database(db_url) as db:
        return [(r.name, r.connection, r.enabled, r.version) for r in mrepo.list_records(db)]


@pytest.mark.parametrize("cli", ["cloud", "server"], indirect=True)
def test_import_refuses_a_missing_field_with_candidates_and_an_unknown_option(cli, tmp_path) -> None:
    typo = cli("mapping", "import", _file(tmp_path, TYPO), "-C", "s")
    assert typo.exit_code == 2, typo.output
    assert "no Jira field matches {name = 'Story Pointz'}" in typo.output
    # The closest by name: the classic "Story Points" on both flavors (and its id, so it can be pasted).
    assert "closest: customfield_" in typo.output and '"Story Points" (number, float)' in typo.output
    assert _stored(cli.db_url) == []

    # An option the Team field does not have, refused without --issue (a stored issue's editmeta).
    assert cli("sync").exit_code == 0
    bad = cli("mapping", "import", _file(tmp_path, BAD_OPTION), "-C", "s")
    assert bad.exit_code == 2, bad.output
    assert "'Backnd' is not an allowed value" in bad.output and "Backend" in bad.output
    assert _stored(cli.db_url) == []

    # validate FILE says the same before anything is stored, and passes the good file.
    checked = cli("mapping", "validate", _file(tmp_path, BAD_OPTION), "-C", "s", "--json")
    assert checked.exit_code == 1
    assert any("Backnd" in p["message"] for p in json.loads(checked.stdout)["problems"])
    good = cli("mapping", "validate", _file(tmp_path, GOOD), "-C", "s", "--json")
    assert good.exit_code == 0 and json.loads(good.stdout) == {"ok": True, "checked": 1, "problems": []}
    assert _stored(cli.db_url) == []

    # test FILE: the file's mappings over issues fetched now, nothing stored.
    tried = cli("mapping", "test", _file(tmp_path, GOOD), "-C", "s", "--limit", "6", "--json")
    assert tried.exit_code == 0, tried.output
    rows = json.loads(tried.stdout)["results"]
    assert len(rows) == 6 and {r["mapping"] for r in rows} == {"team"}
    codes = {"Backend": "be", "Frontend": "fe", "Platform": "pl"}
    for row in rows:
        option = cli.sim.issue(row["key"])["team"]
        assert row["internal_value"] == (codes[dict(TEAM_OPTIONS)[option]] if option else None)
    one = cli("mapping", "test", _file(tmp_path, GOOD), "-C", "s", "--issue", rows[0]["key"])
    assert one.exit_code == 0 and one.output.startswith(f"team {rows[0]['key']}: ")
    assert _stored(cli.db_url) == []
    # Nothing stored yet: trying the stored mappings says so (it printed nothing at all).
    none = cli("mapping", "test", rows[0]["key"], "-C", "s")
    assert none.exit_code == 0 and none.output.startswith("nothing to try: no stored mapping applies to s ")

    imported = cli("mapping", "import", _file(tmp_path, GOOD), "-C", "s")
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.strip() == "team: v1 [s]"


@pytest.mark.parametrize("cli", ["cloud", "server"], indirect=True)
def test_disable_enable_delete_by_name(cli, tmp_path) -> None:
    assert cli("mapping", "import", _file(tmp_path, GOOD), "-C", "s").exit_code == 0
    with Database(cli.db_url) as db:
        generations = [mrepo.generation(db, "s")]
    disabled = cli("mapping", "disable", "team")
    assert disabled.exit_code == 0, disabled.output
    assert disabled.stdout.strip() == "team [s]: disabled; the next sync applies it"
    assert _stored(cli.db_url) == [("team", "s", False, 1)]
    listed = cli("mapping", "list", "-C", "s")
    assert "(disabled)" in listed.stdout
    assert cli("mapping", "enable", "team", "-C", "s").exit_code == 0
    assert _stored(cli.db_url) == [("team", "s", True, 1)]
    with Database(cli.db_url) as db:
        generations.append(mrepo.generation(db, "s"))
        # A global one of the same name makes the bare name ambiguous.
        mrepo.save(db, {"name": "team", "jira_field": "labels", "internal_field": "lab"})
    ambiguous = cli("mapping", "delete", "team")
    assert ambiguous.exit_code == 2 and "several scopes (global, s)" in ambiguous.output
    assert cli("mapping", "delete", "team", "-C", "s").exit_code == 0
    assert _stored(cli.db_url) == [("team", None, True, 1)]
    assert cli("mapping", "delete", "team", "-C", "s").exit_code == 3
    assert cli("mapping", "disable", "nope").exit_code == 3
    with Database(cli.db_url) as db:
        generations.append(mrepo.generation(db, "s"))
    assert generations[0] + 2 == generations[1] < generations[2]


SUMMARY_AS_NUMBER = """
[[mapping]]
name = "summary_number"
jira_field = "summary"
internal_field = "summary_number"
direction = "pull"
steps = [{ op = "to_int" }]
"""


@pytest.mark.parametrize("cli", ["server"], indirect=True)
def test_status_sums_up_the_fields_that_fail_to_map_until_they_map_again(cli, tmp_path) -> None:
    assert cli("sync").exit_code == 0
    assert json.loads(cli("status", "--json").stdout)["field_errors"] == {}
    assert cli("mapping", "import", _file(tmp_path, SUMMARY_AS_NUMBER), "-C", "s").exit_code == 0
    assert cli("sync").exit_code == 0  # the back-fill reads every issue: no summary is a number
    status = json.loads(cli("status", "--json").stdout)
    assert status["field_errors"] == {"s": {"summary_number": 12}}
    text = cli("status").stdout
    assert "field errors: s summary_number on 12 issues" in text

    # One issue's summary becomes a number in Jira: it maps, and leaves the count.
    with cli.sim.site.lock:
        key = sorted(cli.sim.site.issues)[0]
    cli.sim.edit_issue(key, {"summary": "42"})
    assert cli("sync").exit_code == 0
    status = json.loads(cli("status", "--json").stdout)
    assert status["field_errors"] == {"s": {"summary_number": 11}}


LABELS = """
[[mapping]]
name = "labels"
jira_field = "labels"
internal_field = "labels_text"
steps = [{ op = "join", sep = "," }]
"""


@pytest.fixture
def two(tmp_path: Path, sim_factory, monkeypatch, db_url):
    """Two connections, as a new user has them: ``srv`` (Server) and ``cld`` (Cloud)."""
    config = f'[database]\nurl = "{db_url}"\n'
    for name, flavor in (("srv", "server"), ("cld", "cloud")):
        sim = sim_factory(flavor, issues=4)
        user, token = sim.credentials["basic"]
        monkeypatch.setenv(f"JC_TWO_{name.upper()}", token)
        config += (
            f'[[jira]]\nname = "{name}"\nurl = "{sim.url}"\nuser = "{user}"\n'
            f'token_env = "JC_TWO_{name.upper()}"\nrate_limit_per_second = 200\n'
        )
    cfg = tmp_path / "two.toml"
    cfg.write_text(config)
    cfg.chmod(0o600)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["--config", str(cfg), *args])

    run.db_url = db_url  # type: ignore[attr-defined]
    return run


def _rows(db_url: str) -> list[tuple[str | None, str, bool, int, dict]]:
    with Database(db_url) as db:
        rows = [(r.connection, r.name, r.enabled, r.version, r.definition) for r in mrepo.list_records(db)]
    return sorted(rows, key=lambda r: (r[0] or "", r[1]))


def test_without_c_list_export_and_show_see_every_connections_mappings(two, tmp_path) -> None:
    assert two("mapping", "import", _file(tmp_path, GOOD), "-C", "srv").exit_code == 0
    assert two("mapping", "import", _file(tmp_path, LABELS)).exit_code == 0  # global
    # Saved for srv as the console's editor saves it: the stored definition does not name its connection.
    with Database(two.db_url) as db:
        tags = {"name": "tags", "jira_field": "labels", "internal_field": "tags", "direction": "pull"}
        mrepo.save(db, tags, connection="srv")

    listed = two("mapping", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [(line.split()[0], line.split()[-1]) for line in lines] == [
        ("labels", "[global]"),
        ("tags", "[srv]"),
        ("team", "[srv]"),
    ], lines
    as_json = json.loads(two("mapping", "list", "--json").stdout)
    assert [(m["connection"], m["name"]) for m in as_json] == [
        (None, "labels"),
        ("srv", "tags"),
        ("srv", "team"),
    ]
    # -C filters as before: the connection's own and the global ones.
    cld = json.loads(two("mapping", "list", "-C", "cld", "--json").stdout)
    assert [(m["connection"], m["name"]) for m in cld] == [(None, "labels")]

    shown = two("mapping", "show", "team", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["connection"] == "srv"
    assert two("mapping", "show", "team").stdout.startswith('[[mapping]]\nname = "team"')

    # The operator guide's loop: export, edit, import. The export holds every mapping, each connection's
    # own saying so; importing it back unchanged leaves every row as it was (no new version, none moved).
    assert two("mapping", "disable", "team").exit_code == 0
    before = _rows(two.db_url)
    out = tmp_path / "mappings.toml"
    assert two("mapping", "export", "--output", str(out)).exit_code == 0
    exported = out.read_text()
    assert exported.count("[[mapping]]") == 3 and exported.count('connection = "srv"') == 2
    assert two("mapping", "export").stdout == exported
    back = two("mapping", "import", str(out), "--json")
    assert back.exit_code == 0, back.output
    assert [(r["connection"], r["name"], r["version"]) for r in json.loads(back.stdout)] == [
        (None, "labels", 1),
        ("srv", "tags", 1),
        ("srv", "team", 1),
    ]
    assert _rows(two.db_url) == before
    assert two("mapping", "export").stdout == exported
    # An edit made in the file lands on the connection's own mapping, as a new version (still disabled).
    out.write_text(exported.replace('Platform = "pl"', 'Platform = "plat"'))
    assert two("mapping", "import", str(out)).exit_code == 0
    assert [r[:4] for r in _rows(two.db_url)] == [
        (None, "labels", True, 1),
        ("srv", "tags", True, 1),
        ("srv", "team", False, 2),
    ]
    json_export = json.loads(two("mapping", "export", "--json").stdout)
    assert [(d.get("connection"), d["name"]) for d in json_export] == [
        (None, "labels"),
        ("srv", "tags"),
        ("srv", "team"),
    ]

    # The same name for both connections: `show` says which have it and to choose with -C.
    assert two("mapping", "import", _file(tmp_path, GOOD), "-C", "cld").exit_code == 0
    ambiguous = two("mapping", "show", "team")
    assert ambiguous.exit_code == 2
    assert "several scopes (cld, srv)" in ambiguous.stderr and "-C" in ambiguous.stderr
    chosen = json.loads(two("mapping", "show", "team", "-C", "cld", "--json").stdout)
    assert chosen["connection"] == "cld" and chosen["version"] == 1
    assert two("mapping", "show", "nope").exit_code == 3
    # A file may hold the same name for two connections (an export of them does); -C would store both
    # for one connection, which it refuses.
    both = tmp_path / "both.toml"
    assert two("mapping", "export", "--output", str(both)).exit_code == 0
    before = _rows(two.db_url)
    assert two("mapping", "import", str(both)).exit_code == 0 and _rows(two.db_url) == before
    one = two("mapping", "import", str(both), "-C", "srv")
    assert one.exit_code == 2 and "mapping name 'team' is used twice (all are stored for 'srv')" in one.stderr
    assert _rows(two.db_url) == before


def test_validate_without_c_checks_each_site_a_mapping_applies_to(two, tmp_path) -> None:
    # With two connections, `mapping validate FILE` refused ("choose one with --connection") while `mapping
    # import FILE` checked a global mapping against both sites: the file could not be checked as imported.
    cloud_only = '[[mapping]]\nname = "est"\njira_field = { name = "Story point estimate" }\n'
    cloud_only += 'internal_field = "est"\ndirection = "pull"\nsteps = [{ op = "to_float" }]\n'
    checked = two("mapping", "validate", _file(tmp_path, cloud_only))
    assert checked.exit_code == 1, checked.output
    assert "error: mapping 'est': srv: no Jira field matches" in checked.stdout
    assert "cld:" not in checked.stdout  # Cloud has that field
    assert two("mapping", "import", _file(tmp_path, cloud_only)).exit_code == 2  # refused alike
    assert two("mapping", "import", _file(tmp_path, LABELS)).exit_code == 0  # global
    stored = two("mapping", "validate")
    assert stored.exit_code == 0, stored.output
    assert stored.stdout.endswith("2 mappings checked against srv, cld, 0 errors, 0 warnings\n")
    assert two("mapping", "validate", "-C", "cld").stdout.endswith(
        "1 mappings checked, 0 errors, 0 warnings\n"
    )


def test_mapping_test_finds_the_connection_of_a_stored_issue(two, tmp_path) -> None:
    # With two connections, `mapping test ENG-1` refused without -C even when only one of them holds ENG-1:
    # the issue key says which site to ask.
    assert two("mapping", "import", _file(tmp_path, LABELS)).exit_code == 0  # global: both sites
    unknown = two("mapping", "test", "ENG-1")
    assert unknown.exit_code == 2
    assert "ENG-1 is not in the local database" in unknown.stderr
    assert "--connection (srv, cld)" in unknown.stderr
    assert two("sync", "-C", "srv").exit_code == 0
    tried = two("mapping", "test", "ENG-1", "--json")
    assert tried.exit_code == 0, tried.output
    assert [r["mapping"] for r in json.loads(tried.stdout)["results"]] == ["labels"]
    # A file tried on --issue finds its site the same way; without an issue it still needs -C.
    assert two("mapping", "test", _file(tmp_path, LABELS), "--issue", "ENG-1").exit_code == 0
    no_issue = two("mapping", "test", _file(tmp_path, LABELS))
    assert no_issue.exit_code == 2 and "choose one with --connection" in no_issue.stderr
    assert two("sync", "-C", "cld").exit_code == 0
    both = two("mapping", "test", "ENG-1")
    assert both.exit_code == 2 and "ENG-1 is stored for several connections" in both.stderr
