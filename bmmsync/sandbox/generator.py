"""Generated data (`--seed N`): N tickets over the demo map, for benchmarks.

Distribution (the trace benchmark's): 30% of tickets have a parent (and no label of their
own, so they inherit), about 5% per broken reason code, the rest traced by a label or the
Jira "Capability" field. Half the tickets are on GitHub (acme/web, acme/mobile), half in
Jira project PLAT. Deterministic for a given N and `random_seed`. A million tickets take
well under a minute: records are built directly, without the per-change bookkeeping.
"""

from __future__ import annotations

import random

from bmmsync.sandbox.demo import LABEL_COLOURS
from bmmsync.sandbox.records import GhIssue, JiraIssue
from bmmsync.sandbox.state import SandboxState

TRACED = [
    "self-service-portal",
    "portal",
    "export-user-data",
    "guided-setup",
    "consent-management",
    "mobile-offline",
    "push-notifications",
    "observability",
    "audit-log",
    "data-export",
]
# reason code -> labels that produce it (None: handled specially)
BROKEN: dict[str, list[str] | None] = {
    "no-capability": [],
    "unknown-capability": ["cap:self-service-portl"],
    "ambiguous-capability": ["cap:portal", "cap:export-user-data"],
    "retired-capability": ["cap:legacy-sso"],
    "capability-without-decision": ["cap:design-system"],
    "decision-without-motivator": ["cap:ai-assistant"],
    "retired-motivator": ["cap:partner-webhooks"],
    "motivator-review-overdue": ["cap:support-chatbot"],
    "parent-missing": None,
    "parent-cycle": None,
}
BROKEN_SHARE = 0.05
PARENT_SHARE = 0.30


DAY = 86400


def generate(state: SandboxState, n: int, random_seed: int = 42) -> dict[str, int]:
    """Fill an empty state with `n` tickets; returns counts per reason code."""
    rng = random.Random(random_seed)
    now = state.clock.now()
    state.add_org("acme")
    state.add_issue_type("Task", "A specific piece of work", "yellow")
    repos = [state.add_repo("acme", "web"), state.add_repo("acme", "mobile")]
    for repo in repos:
        for name, colour in LABEL_COLOURS.items():
            state.ensure_label(repo, name, colour)
        for label in {*(f"cap:{c}" for c in TRACED), *(x for v in BROKEN.values() if v for x in v)}:
            state.ensure_label(repo, label)
    project = state.add_project("PLAT", "Platform")
    data = state.data
    counts: dict[str, int] = {}
    gh_parents: list[list[int]] = [[], []]
    jira_parents: list[str] = []
    # A cycle is a pair: the first ticket points at the next one made on the same side,
    # which points back. side (0, 1 GitHub repos; 2 Jira) -> number that awaits its partner.
    open_cycle: dict[int, int] = {}
    span = 365 * DAY
    reasons = list(BROKEN)
    for i in range(n):
        side = (i // 2) % 2 if i % 2 == 0 else 2
        roll = rng.random()
        # Nothing changes in the last day, so a sync right after seeding finds no update
        # inside its overlap window (as with a real backlog, where edits are spread out).
        created = now - DAY - span + (span * i) // max(n, 1)
        updated = created + rng.randrange(0, max(1, min(30 * DAY, now - DAY - created)))
        parent_of = None
        labels: list[str] = []
        if side in open_cycle:
            reason, parent_of = "parent-cycle", "cycle"
        elif roll < BROKEN_SHARE * len(reasons):
            reason = reasons[int(roll / BROKEN_SHARE)]
            if reason == "parent-cycle":
                parent_of = "cycle"
            elif reason == "parent-missing":
                parent_of = "missing"
            else:
                labels = list(BROKEN[reason] or [])
        elif roll < BROKEN_SHARE * len(reasons) + PARENT_SHARE:
            reason, parent_of = "inherited", "parent"
        else:
            reason = "traced"
            labels = [f"cap:{rng.choice(TRACED)}"]
        data.next_id += 1
        if side < 2:
            repo = repos[side]
            number = repo.next_number
            parent = None
            if parent_of == "parent" and gh_parents[side]:
                parent = f"{repo.full_name}#{rng.choice(gh_parents[side])}"
            elif parent_of == "missing":
                parent = f"{repo.full_name}#{10**9 + number}"
            elif parent_of == "cycle":
                partner = open_cycle.pop(side, None)
                if partner is None:
                    open_cycle[side] = number
                parent = f"{repo.full_name}#{partner or number + 1}"
            if parent is None and labels and labels[0].startswith("cap:"):
                gh_parents[side].append(number)
            if parent_of == "parent" and parent is None:
                reason = "no-capability"  # no parent to inherit from yet on this side
            issue = GhIssue(
                id=data.next_id,
                repo=repo.full_name,
                number=number,
                title=f"Generated ticket {i}",
                user="alice" if i % 3 else "bob",
                created=created,
                updated=updated,
                labels=[repo.labels[x].name for x in labels],
                parent=parent,
            )
            if rng.random() < 0.2:
                issue.state, issue.state_reason, issue.closed_at = "closed", "completed", updated
            repo.issues[number] = issue
            repo.next_number += 1
            if parent:
                state._children.setdefault(parent.lower(), []).append(issue)
        else:
            number = project.next_number
            key = f"PLAT-{number}"
            jparent = None
            if parent_of == "parent" and jira_parents:
                jparent = rng.choice(jira_parents)
            elif parent_of == "missing":
                jparent = f"PLAT-{10**9 + number}"
            elif parent_of == "cycle":
                partner = open_cycle.pop(side, None)
                if partner is None:
                    open_cycle[side] = number
                jparent = f"PLAT-{partner or number + 1}"
            if parent_of == "parent" and jparent is None:
                reason = "no-capability"  # no parent to inherit from yet
            capability = None
            if reason == "traced" and rng.random() < 0.3:
                capability = {"value": labels[0][4:], "id": "10100"}
                labels = []
            elif labels and labels[0].startswith("cap:"):
                jira_parents.append(key)
            data.next_jira_id += 1
            jissue = JiraIssue(
                id=data.next_jira_id,
                key=key,
                project="PLAT",
                summary=f"Generated ticket {i}",
                issuetype="Sub-task" if jparent else "Task",
                reporter="557058:alice",
                created=created,
                updated=updated,
                labels=labels,
                parent=jparent,
                capability=capability,
                story_points=float(rng.choice((1, 2, 3, 5, 8))),
                status="Done" if rng.random() < 0.2 else "To Do",
            )
            if jissue.status == "Done":
                jissue.resolved = updated
            data.jira_issues[key] = jissue
            data.jira_ids[jissue.id] = key
            project.next_number += 1
        counts[reason] = counts.get(reason, 0) + 1
    state.changed()
    return counts
