"""Demo data (`--seed demo`): org `acme` (repos `web`, `mobile`) and Jira project `PLAT`.

The map is `config/demo-model.yaml`. Which ticket shows which trace reason code:

| reason code                  | tickets                                                       |
|------------------------------|---------------------------------------------------------------|
| traced (label)               | acme/web#1,#4 (`CAP:Guided-Setup`),#5 (`cap: setup-wizard`),  |
|                              | #6,#7,#8,#22,#23; acme/mobile#1,#4,#5,#6,#12 (`cap: portal`), |
|                              | #13,#16; PLAT-14 (`CAP:Observability`)                         |
| traced (Jira field)          | PLAT-1 (select option), PLAT-5 (option), PLAT-8 (plain string)|
| traced (inherited)           | acme/web#2,#3; acme/mobile#2,#3,#14 (parent acme/web#1);       |
|                              | PLAT-2,PLAT-3,PLAT-4 (sub-task of PLAT-2),PLAT-6,PLAT-7        |
| pull request (traced)        | acme/web#18                                                   |
| exempt (`no-trace`)          | acme/web#17, acme/mobile#11, PLAT-21                          |
| no-capability                | acme/web#9, acme/mobile#7, PLAT-10                            |
| unknown-capability           | acme/web#10 (`cap:self-service-portl`), acme/mobile#8          |
|                              | (`cap:onboarding`, a decision), PLAT-15 (field typo)           |
| ambiguous-capability         | acme/web#11 (two cap labels), PLAT-16 (label vs field)        |
| retired-capability           | acme/web#12, acme/mobile#10, PLAT-13 (`legacy-sso`)            |
| capability-without-decision  | acme/web#13, acme/mobile#15, PLAT-22 (`design-system`)         |
| decision-without-motivator   | acme/web#14, PLAT-12 (`ai-assistant`)                          |
| retired-motivator            | acme/web#15, PLAT-11 (field as a list) (`partner-webhooks`)    |
| motivator-review-overdue     | acme/web#16, acme/mobile#9, PLAT-9 (`support-chatbot`)         |
| parent-missing               | acme/web#19 (parent acme/web#999), PLAT-18 (parent PLAT-17,   |
|                              | deleted)                                                      |
| parent-cycle                 | acme/web#20 <-> #21, PLAT-19 <-> PLAT-20                       |

Closed: acme/web#3, #22 (not planned), acme/mobile#3, #15; PLAT-3, PLAT-23 Done; their
closed dates lie 75 to 130 days back, so velocity and effort by goal have a past quarter.
Issue types (GitHub): Feature on acme/web#1 and acme/mobile#1, Bug on acme/mobile#5 and #7.
On a Server deployment stories under epics use "Epic Link" instead of `parent`.
"""

from __future__ import annotations

from typing import Any

from bmmsync.sandbox.state import SandboxState

DAY = 86400

# (title, labels, extras): extras may hold parent (number or "repo#n"), state, reason,
# type, pr, user.
GitHubRow = tuple[str, list[str], dict[str, Any]]

WEB: list[GitHubRow] = [
    (
        "Self-service portal: account page",
        ["cap:self-service-portal", "enhancement"],
        {"type": "Feature"},
    ),
    ("Portal: responsive navigation", [], {"parent": 1}),
    ("Portal: fix avatar upload", ["bug"], {"parent": 1, "state": "closed", "closed": 100}),
    ("Guided setup wizard, step 1", ["CAP:Guided-Setup"], {}),
    ("Setup wizard: allow skipping a step", ["cap: setup-wizard"], {}),
    ("Export my data as CSV", ["cap:export-user-data"], {}),
    ("Export my data as JSON", ["cap:data-export"], {}),
    ("Cookie consent banner", ["cap:consent-management", "bug"], {}),
    ("Update footer copy", [], {}),
    ("Portal: remember last visited page", ["cap:self-service-portl"], {}),
    ("Portal page to download my data", ["cap:portal", "cap:export-user-data"], {}),
    ("Remove the legacy SSO button", ["cap:legacy-sso"], {}),
    ("Design tokens for buttons", ["cap:design-system"], {}),
    ("AI help sidebar", ["cap:ai-assistant"], {}),
    ("Partner webhook retries", ["cap:partner-webhooks"], {}),
    ("Chatbot hand-off to a human", ["cap:support-chatbot"], {}),
    ("Bump dependencies", ["no-trace", "dependencies"], {"user": "bob"}),
    ("Add portal settings page", ["cap:portal"], {"pr": True}),
    ("Follow-up on a removed epic", [], {"parent": 999}),
    ("Cycle A: refactor session handling", [], {"parent": 21}),
    ("Cycle B: session storage", [], {"parent": 20}),
    (
        "Observability dashboards",
        ["cap:monitoring"],
        {"state": "closed", "reason": "not_planned", "closed": 95},
    ),
    ("Audit log viewer", ["cap:audit-log"], {}),
]

MOBILE: list[GitHubRow] = [
    ("Offline mode for lists", ["cap:offline"], {"type": "Feature"}),
    ("Offline: resolve sync conflicts", [], {"parent": 1}),
    ("Offline: cache eviction", [], {"parent": 1, "state": "closed", "closed": 75}),
    ("Push notification opt-in", ["Cap:Push-Notifications"], {}),
    ("Push deep links open the wrong screen", ["cap:push-notifications"], {"type": "Bug"}),
    ("In-app data export", ["cap:export-user-data"], {}),
    ("Crash on launch (Android 15)", ["bug"], {"type": "Bug"}),
    ("Onboarding carousel", ["cap:onboarding"], {}),
    ("Chatbot widget in the app", ["cap:support-chatbot"], {}),
    ("Biometric login through legacy SSO", ["cap:legacy-sso"], {}),
    ("Release 4.2 checklist", ["no-trace"], {"user": "bob"}),
    ("Portal view in the app", ["cap: portal"], {}),
    ("Crash reporting", ["cap:observability"], {}),
    ("Account page on mobile", [], {"parent": "acme/web#1"}),
    ("Dark mode", ["cap:design-system"], {"state": "closed", "closed": 130}),
    ("Consent screen on first launch", ["cap:consent-management"], {}),
]

# (summary, issuetype, extras): extras may hold parent, labels, capability, points, status.
JiraRow = tuple[str, str, dict[str, Any]]

PLAT: list[JiraRow] = [
    (
        "Self-service portal backend",
        "Epic",
        {"capability": {"value": "self-service-portal", "id": "10101"}},
    ),
    ("Portal API: profile endpoint", "Story", {"parent": "PLAT-1", "points": 3}),
    (
        "Portal API: authentication",
        "Story",
        {"parent": "PLAT-1", "points": 5, "status": "Done", "closed": 110},
    ),
    ("Write tests for the profile endpoint", "Sub-task", {"parent": "PLAT-2", "points": 1}),
    ("Data export service", "Epic", {"capability": {"value": "export-user-data", "id": "10102"}}),
    ("Nightly export job (every 24 hours)", "Story", {"parent": "PLAT-5", "points": 5}),
    (
        "Export throughput: 10,000 records per second",
        "Story",
        {"parent": "PLAT-5", "points": 8, "status": "In Progress"},
    ),
    ("Consent records storage", "Task", {"capability": "consent-management", "points": 3}),
    ("Support chatbot intents", "Task", {"labels": ["cap:support-chatbot"], "points": 2}),
    ("Upgrade PostgreSQL to 17", "Task", {"points": 3}),
    ("Sign partner webhook payloads", "Task", {"capability": ["partner-webhooks"]}),
    ("AI summariser spike", "Task", {"labels": ["cap:ai-assistant"]}),
    ("Decommission legacy SSO", "Task", {"labels": ["cap:legacy-sso"], "points": 2}),
    ("Metrics pipeline", "Task", {"labels": ["CAP:Observability"], "points": 5}),
    ("Export audit trail", "Task", {"capability": "export-user-dta"}),
    (
        "Tracing for the export service",
        "Task",
        {
            "labels": ["cap:observability"],
            "capability": {"value": "export-user-data", "id": "10102"},
        },
    ),
    ("Obsolete epic (deleted)", "Epic", {"deleted": True}),
    ("Clean up after the obsolete epic", "Sub-task", {"parent": "PLAT-17"}),
    ("Cycle A: shared job runner", "Sub-task", {"parent": "PLAT-20"}),
    ("Cycle B: job runner config", "Sub-task", {"parent": "PLAT-19"}),
    ("Quarterly access review", "Task", {"labels": ["no-trace"]}),
    ("Design-system tokens for the admin UI", "Task", {"labels": ["cap:design-system"]}),
    (
        "Guided setup analytics",
        "Story",
        {"labels": ["cap:guided-setup"], "points": 3, "status": "Done", "closed": 85},
    ),
]

LABEL_COLOURS = {
    "bug": "d73a4a",
    "enhancement": "a2eeef",
    "dependencies": "0366d6",
    "no-trace": "cccccc",
}


def seed_demo(state: SandboxState) -> dict[str, int]:
    """Load the demo data into an empty state; timestamps lie in the 60 days before now."""
    now = state.clock.now()
    state.add_org("acme")
    for name, desc, colour in (
        ("Task", "A specific piece of work", "yellow"),
        ("Bug", "An unexpected problem or behavior", "red"),
        ("Feature", "A request, idea, or new functionality", "blue"),
    ):
        state.add_issue_type(name, desc, colour)
    count = 0
    for repo_name, rows in (("web", WEB), ("mobile", MOBILE)):
        repo = state.add_repo("acme", repo_name)
        for name, colour in LABEL_COLOURS.items():
            state.ensure_label(repo, name, colour)
        for i, (title, labels, extra) in enumerate(rows, start=1):
            created = now - (60 - i * 2) * DAY - (i * 3607) % DAY
            parent = extra.get("parent")
            if isinstance(parent, int):
                parent = f"acme/{repo_name}#{parent}"
            issue = state.gh_create_issue(
                f"acme/{repo_name}",
                title,
                extra.get("user", "alice"),
                body=f"{title}.\n\nDemo ticket.",
                labels=labels,
                is_pr=extra.get("pr", False),
                type_name=extra.get("type"),
                parent=parent,
                created=created,
            )
            if extra.get("state") == "closed":
                state.gh_set_state(issue, "closed", "bob", extra.get("reason"))
                issue.closed_at = created + 2 * DAY
            issue.updated = min(now, created + (i % 5 + 1) * DAY) if i < len(rows) - 2 else now
            if "closed" in extra:  # delivered months ago: what velocity and effort count
                issue.created = now - (extra["closed"] + 12) * DAY
                issue.closed_at = issue.updated = now - extra["closed"] * DAY
            issue.cache = None
            count += 1
    server = state.data.jira_deployment == "server"
    state.add_project("PLAT", "Platform")
    for i, (summary, itype, extra) in enumerate(PLAT, start=1):
        created = now - (58 - i * 2) * DAY - (i * 5413) % DAY
        parent = extra.get("parent")
        epic_link = None
        if server and parent and itype != "Sub-task":
            parent, epic_link = None, parent
        jissue = state.jira_create_issue(
            "PLAT",
            summary,
            "557058:alice" if i % 3 else "557058:bob",
            issuetype=itype,
            labels=extra.get("labels"),
            parent=parent,
            epic_link=epic_link,
            capability=extra.get("capability"),
            story_points=extra.get("points"),
            status=extra.get("status", "To Do"),
            description=f"{summary}. Demo ticket.",
            created=created,
        )
        jissue.updated = min(now, created + (i % 4 + 1) * DAY) if i < len(PLAT) - 2 else now
        if jissue.status == "Done":
            jissue.resolved = jissue.updated
        if "closed" in extra:  # resolved months ago (and maybe edited since)
            jissue.created = now - (extra["closed"] + 12) * DAY
            jissue.resolved = now - extra["closed"] * DAY
            if i < len(PLAT) - 2:  # the last two rows stay freshly edited
                jissue.updated = jissue.resolved
        count += 1
    for key in [k for k, (_, _, e) in enumerate(PLAT, start=1) if e.get("deleted")]:
        state.jira_delete_issue(state.jira_issue(f"PLAT-{key}"))
        count -= 1
    state.changed()
    return {"tickets": count}
