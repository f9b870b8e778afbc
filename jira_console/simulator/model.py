"""Static facts of the simulated Jira site: configuration, custom field ids, users, statuses, workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Flavor = Literal["cloud", "server"]

CLOUD_ID = "sim-cloud-id"
API_TOKEN = "sim-api-token"  # noqa: S105 - a fixed, public test credential
PAT_TOKEN = "sim-pat-token"  # noqa: S105 - a fixed, public test credential

FIELD_IDS: dict[str, dict[str, str]] = {
    "cloud": {
        "story_points": "customfield_10016",
        "classic_story_points": "customfield_10026",
        "sprint": "customfield_10020",
        "team": "customfield_10050",
        "atlassian_team": "customfield_10001",
        "parent": "parent",
    },
    "server": {
        "story_points": "customfield_10106",
        "sprint": "customfield_10104",
        "epic_link": "customfield_10100",
        "team": "customfield_10200",
    },
}
"""Custom field ids per flavor, role -> field id. Fixed so tests and mappings can name them."""

CUSTOM_TYPES = {
    "story_points_cloud": "com.pyxis.greenhopper.jira:jsw-story-points",
    "float": "com.atlassian.jira.plugin.system.customfieldtypes:float",
    "sprint": "com.pyxis.greenhopper.jira:gh-sprint",
    "select": "com.atlassian.jira.plugin.system.customfieldtypes:select",
    "epic_link": "com.pyxis.greenhopper.jira:gh-epic-link",
    "atlassian_team": "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
}

TEAM_OPTIONS = [("10300", "Backend"), ("10301", "Frontend"), ("10302", "Platform")]

ATLASSIAN_TEAMS = [
    ("36885b3c-1bf0-4f85-a357-c5b858c31de4", "Payments crew"),
    ("9a1c44e2-0f3b-4e39-8d6f-2f8e7c2b5a10", "Search squad"),
    ("c0ffee00-1234-4abc-9def-00000000cafe", "Platform guild"),
]
"""Cloud's native teams (the ``atlassian-team`` field's values): team id, team name."""


@dataclass(frozen=True)
class SimConfig:
    """How the simulated site is built. Everything generated follows from ``seed``."""

    flavor: Flavor = "cloud"
    seed: int = 1
    issues: int = 200
    projects: tuple[str, ...] = ("ENG", "OPS")
    user_tz: str = "Australia/Sydney"
    max_page_size: int | None = None
    """Search page-size clamp; None means 100 on Cloud and 50 on Server."""
    tie_fraction: float = 0.3
    """Fraction of issues whose ``updated`` equals another issue's (bulk edits make these in real Jira)."""
    webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0)
    """Pauses between webhook delivery attempts (real Jira spreads them over ~30 minutes)."""
    webhook_timeout: float = 5.0
    out_of_context: tuple[tuple[str, str], ...] = ()
    """(field role, issue type) pairs outside the custom field's context, e.g. ``(("story_points", "Bug"),)``:
    the field is absent from such issues, from their editmeta, and cannot be set (see ``contexts``)."""
    host: str = "127.0.0.1"
    port: int = 0
    company_managed: tuple[str, ...] = ()
    """Cloud: projects that are company-managed (a ``scrum`` board estimating with the classic "Story
    Points" field); the others become team-managed (a ``simple`` board estimating with "Story point
    estimate"). Empty: every board is ``scrum`` and estimates with the site's story-points field."""

    @property
    def page_size(self) -> int:
        if self.max_page_size is not None:
            return self.max_page_size
        return 100 if self.flavor == "cloud" else 50


@dataclass(frozen=True)
class SimUser:
    """One account. Cloud shows ``account_id``; Server shows ``name`` and ``key``."""

    account_id: str
    name: str
    display_name: str
    email: str | None
    time_zone: str = "Australia/Sydney"
    active: bool = True

    @property
    def key(self) -> str:
        # Server keys look like JIRAUSER10100 for accounts created after 8.x; older ones equal the name.
        return self.name


def default_users(user_tz: str) -> list[SimUser]:
    """The API user first, then the team. One e-mail is hidden, as Cloud privacy settings do."""
    return [
        SimUser("5b10a2844c20165700ede21g", "ops", "Ops Robot", "ops@example.com", user_tz),
        SimUser("5b10ac8d82e05b22cc7d4ef5", "alice", "Alice Nguyen", "alice@example.com", "Australia/Sydney"),
        SimUser("5b109f2e9729b51b54dc274d", "bob", "Bob Martin", None, "Europe/Berlin"),
        SimUser(
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            "carol",
            "Carol Diaz",
            "carol@example.com",
            "America/New_York",
        ),
        SimUser(
            "712020:2a1b3c4d-5e6f-4a0b-9c8d-7e6f5a4b3c2d",
            "dave",
            "Dave Okafor",
            "dave@example.com",
            "UTC",
            active=False,
        ),
        SimUser("5d53f3cbc6b9320d9ea5bdc2", "other", "Other Editor", "other@example.com", "Europe/London"),
    ]


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category_id: int
    category_key: str
    category_name: str
    color: str


STATUSES = [
    Status("10000", "To Do", 2, "new", "To Do", "blue-gray"),
    Status("3", "In Progress", 4, "indeterminate", "In Progress", "yellow"),
    Status("10001", "In Review", 4, "indeterminate", "In Progress", "yellow"),
    Status("10002", "Done", 3, "done", "Done", "green"),
]
STATUS_BY_NAME = {s.name: s for s in STATUSES}
STATUS_BY_ID = {s.id: s for s in STATUSES}


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    source: str
    target: str


# Not every status is one step away: To Do cannot jump straight to Done.
WORKFLOW = [
    Transition("11", "Start Progress", "To Do", "In Progress"),
    Transition("21", "Submit for Review", "In Progress", "In Review"),
    Transition("31", "Stop Progress", "In Progress", "To Do"),
    Transition("41", "Approve", "In Review", "Done"),
    Transition("51", "Request Changes", "In Review", "In Progress"),
    Transition("61", "Reopen", "Done", "To Do"),
]

ISSUE_TYPES = [
    ("10001", "Story", False),
    ("10002", "Bug", False),
    ("10003", "Task", False),
    ("10000", "Epic", False),
]
ISSUE_TYPE_BY_NAME = {name: (tid, sub) for tid, name, sub in ISSUE_TYPES}
ISSUE_TYPE_BY_ID = {tid: name for tid, name, _ in ISSUE_TYPES}
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
PRIORITY_BY_NAME = {name: pid for pid, name in PRIORITIES}
PRIORITY_BY_ID = {pid: name for pid, name in PRIORITIES}
COMPONENTS = [("10500", "API"), ("10501", "Web UI"), ("10502", "Infrastructure")]
COMPONENT_BY_NAME = {name: cid for cid, name in COMPONENTS}
COMPONENT_BY_ID = {cid: name for cid, name in COMPONENTS}
LABELS = ["backend", "frontend", "tech-debt", "customer", "security", "perf"]


@dataclass
class Sprint:
    """An agile sprint; times are epoch milliseconds."""

    id: int
    board_id: int
    name: str
    state: str  # future | active | closed
    start: int | None = None
    end: int | None = None
    complete: int | None = None
    goal: str = ""
    sequence: int = 0


@dataclass
class Board:
    id: int
    name: str
    project: str
    type: str = "scrum"


@dataclass
class History:
    """One changelog entry."""

    id: int
    author: str  # user name
    created: int
    items: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Issue:
    """The canonical state of one issue; renderers turn it into each flavor's JSON."""

    id: int
    key: str
    project: str
    number: int
    summary: str
    issuetype: str
    status: str
    priority: str
    assignee: str | None
    reporter: str
    labels: list[str]
    components: list[str]
    description: dict[str, object] | str | None
    """ADF (rendered to wiki on v2); on a Server site, wiki written through the API is kept as written,
    like Server keeps it (its own wiki renderer never sees a round trip through ADF)."""
    environment: dict[str, object] | str | None
    created: int
    updated: int
    story_points: float | None = None
    classic_story_points: float | None = None
    team: str | None = None  # option id
    atlassian_team: str | None = None  # Cloud native team id
    sprints: list[int] = field(default_factory=list)
    parent: str | None = None  # epic key (Cloud parent / Server epic link)
    changelog: list[History] = field(default_factory=list)

    @property
    def sort_key(self) -> tuple[str, int]:
        """Jira sorts keys by project then number, not as strings."""
        return (self.project, self.number)
