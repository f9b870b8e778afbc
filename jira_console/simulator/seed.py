"""The simulated site's seeded content: boards, sprints and issues generated deterministically from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from jira_console.simulator.model import (
    COMPONENTS,
    LABELS,
    PRIORITIES,
    STATUSES,
    TEAM_OPTIONS,
    Board,
    Issue,
    SimConfig,
    SimUser,
    Sprint,
)

BASE_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: seeded data lives in the first half of 2025
DAY_MS = 86_400_000
_WORDS = (
    "login",
    "export",
    "cache",
    "report",
    "billing",
    "search",
    "webhook",
    "sync",
    "timeout",
    "dashboard",
    "import",
    "audit",
    "alert",
    "invoice",
    "profile",
    "upload",
)
_VERBS = ("Fix", "Add", "Improve", "Investigate", "Refactor", "Document", "Remove", "Speed up")


@dataclass
class Seed:
    """What generation produced, plus the counters the site continues from."""

    boards: dict[int, Board] = field(default_factory=dict)
    sprints: dict[int, Sprint] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    next_number: dict[str, int] = field(default_factory=dict)
    next_id: int = 10001


def generate(cfg: SimConfig, projects: tuple[str, ...], users: list[SimUser]) -> Seed:
    """Boards, sprints and issues for ``projects``; the same ``cfg.seed`` always yields the same site."""
    rng = random.Random(cfg.seed)
    seed = Seed(next_number={p: 1 for p in projects})
    _boards_and_sprints(seed, projects, rng)
    _issues(seed, cfg, projects, users, rng)
    return seed


def _boards_and_sprints(seed: Seed, projects: tuple[str, ...], rng: random.Random) -> None:
    sprint_id = 1
    for b, project in enumerate(projects, start=1):
        seed.boards[b] = Board(b, f"{project} board", project)
        for n in range(1, 7):
            state = "closed" if n <= 3 else "active" if n == 4 else "future"
            start = BASE_MS + (n - 1) * 14 * DAY_MS if state != "future" else None
            end = start + 14 * DAY_MS if start is not None else None
            sp = Sprint(
                sprint_id,
                b,
                f"{project} Sprint {n}",
                state,
                start,
                end,
                end + 3_600_000 if state == "closed" and end else None,
                goal="" if n % 2 else f"Ship {rng.choice(_WORDS)}",
                sequence=sprint_id,
            )
            seed.sprints[sprint_id] = sp
            sprint_id += 1


def _issues(
    seed: Seed, cfg: SimConfig, projects: tuple[str, ...], users: list[SimUser], rng: random.Random
) -> None:
    names = [u.name for u in users if u.name != "other"]
    statuses = [s.name for s in STATUSES]
    epics: dict[str, list[str]] = {p: [] for p in projects}
    issues = seed.issues
    for i in range(cfg.issues):
        project = projects[i % len(projects)]
        number = seed.next_number[project]
        seed.next_number[project] += 1
        created = BASE_MS + rng.randrange(150 * DAY_MS)
        updated = created + rng.randrange(30 * DAY_MS)
        if issues and rng.random() < cfg.tie_fraction:
            # A bulk edit: several issues end with the very same millisecond.
            other = issues[rng.randrange(max(0, len(issues) - 50), len(issues))]
            updated = other.updated
            created = min(created, updated - rng.randrange(1, DAY_MS))
        itype = "Epic" if rng.random() < 0.04 else rng.choice(("Story", "Story", "Bug", "Task"))
        board_sprints = [s for s in seed.sprints.values() if s.board_id == projects.index(project) + 1]
        sprints = _sprints_for(itype, board_sprints, rng)
        key = f"{project}-{number}"
        desc = _description(rng) if rng.random() < 0.7 else None
        parent = None
        if itype != "Epic" and epics[project] and rng.random() < 0.3:
            parent = rng.choice(epics[project])
        issue = Issue(
            id=seed.next_id,
            key=key,
            project=project,
            number=number,
            summary=f"{rng.choice(_VERBS)} {rng.choice(_WORDS)} {rng.choice(_WORDS)} ({key})",
            issuetype=itype,
            status=rng.choice(statuses),
            priority=rng.choice(PRIORITIES)[1],
            assignee=rng.choice([*names, None]),
            reporter=rng.choice(names),
            labels=rng.sample(LABELS, rng.randrange(3)),
            components=[c[1] for c in rng.sample(COMPONENTS, rng.randrange(2))],
            description=desc,
            environment=None,
            created=created,
            updated=updated,
            story_points=rng.choice((None, 1.0, 2.0, 3.0, 5.0, 8.0)),
            team=rng.choice([None, *(o[0] for o in TEAM_OPTIONS)]),
            sprints=sprints,
            parent=parent,
        )
        if itype == "Epic":
            epics[project].append(key)
        seed.next_id += 1
        issues.append(issue)


def _sprints_for(itype: str, board_sprints: list[Sprint], rng: random.Random) -> list[int]:
    """Sprint membership of one seeded issue: closed ones (some carried over), the active or a future one."""
    roll = rng.random()
    sprints: list[int] = []
    if itype != "Epic":
        if roll < 0.45:
            sprints = [board_sprints[rng.randrange(3)].id]
            if rng.random() < 0.3:
                sprints.append(board_sprints[3].id)
        elif roll < 0.6:
            sprints = [board_sprints[3].id]
        elif roll < 0.7:
            sprints = [board_sprints[4 + rng.randrange(2)].id]
    return sprints


def _description(rng: random.Random) -> dict[str, Any]:
    return {
        "version": 1,
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": f"Users report that {rng.choice(_WORDS)} is slow. "},
                    {"type": "text", "text": "Steps", "marks": [{"type": "strong"}]},
                ],
            }
        ],
    }
