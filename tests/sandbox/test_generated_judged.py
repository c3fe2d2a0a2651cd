"""The generator's tickets judged by the real trace, ticket by ticket, against what this
test expects of each from the tickets themselves and the demo map: an expectation that owes
nothing to the generator's own tally of what it meant to make."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bmmsync.checking import judge_store
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.sandbox.state import SandboxState
from bmmsync.store.database import Store
from tests.bot.helpers import bot_config, sync

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # "today" of the demo map
N = 1200

# What config/demo-model.yaml makes of each capability a ticket can name (None: traced).
MAP = {
    "self-service-portal": None,
    "portal": None,  # alias of self-service-portal
    "export-user-data": None,
    "data-export": None,  # alias of export-user-data
    "guided-setup": None,
    "consent-management": None,
    "mobile-offline": None,
    "push-notifications": None,
    "observability": None,
    "audit-log": None,
    "self-service-portl": "unknown-capability",  # a typo: no such id or alias
    "legacy-sso": "retired-capability",
    "design-system": "capability-without-decision",
    "ai-assistant": "decision-without-motivator",  # innovation-lab has no motivator
    "partner-webhooks": "retired-motivator",  # partner-api <- legacy-partners (retired)
    "support-chatbot": "motivator-review-overdue",  # cost-efficiency: review 2026-06-30
}
CANONICAL = {"portal": "self-service-portal", "data-export": "export-user-data"}


class Expectation:
    """Each ticket's expected reason (None: traced), read off the sandbox's records."""

    def __init__(self, state: SandboxState) -> None:
        self.tickets: dict[str, tuple[set[str], str | None, bool]] = {}
        for repo in state.data.repos.values():
            for issue in repo.issues.values():
                caps = {x[4:].lower() for x in issue.labels if x.lower().startswith("cap:")}
                self.tickets[issue.key] = (caps, issue.parent, issue.state == "closed")
        for key, jissue in state.data.jira_issues.items():
            caps = {x[4:].lower() for x in jissue.labels if x.lower().startswith("cap:")}
            if isinstance(jissue.capability, dict):
                caps.add(str(jissue.capability["value"]).lower())
            self.tickets[key] = (caps, jissue.parent, jissue.status == "Done")

    def trace(self, key: str, path: tuple[str, ...] = ()) -> str | None:
        caps, parent, _ = self.tickets[key]
        named = {CANONICAL.get(c, c) for c in caps}
        if len(named) > 1:
            return "ambiguous-capability"
        if named:
            return MAP[named.pop()]
        if parent is None:
            return "no-capability"
        if parent not in self.tickets:
            return "parent-missing"
        if parent in path or parent == key:
            return "parent-cycle"
        return self.trace(parent, (*path, key))

    def own(self, key: str) -> str | None:
        """The cause a ticket carries itself; "inherited" when it takes its parent's."""
        caps, parent, _ = self.tickets[key]
        if caps or parent is None or parent not in self.tickets:
            return self.trace(key, ())
        walked, at = [key], parent
        while at is not None and at in self.tickets and at not in walked:
            walked.append(at)
            at = self.tickets[at][1] if not self.tickets[at][0] else None
        return "parent-cycle" if at == key else "inherited"

    def reason(self, key: str) -> str | None:
        """Closed tickets are out of scope (`ignore_closed`); the rest are traced."""
        return None if self.tickets[key][2] else self.trace(key)


def test_generated_tickets_carry_the_reasons_the_map_gives_them(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    tally = sandbox_control.seed(N)
    config = bot_config(sandbox)
    sync(config, store)
    expect = Expectation(sandbox.state)

    with store.session() as session:
        judgement = judge_store(session, config.mapping.to_rules(), NOW.date())
    verdicts = {v.key: v for v in judgement.verdicts}

    assert set(verdicts) == set(expect.tickets)
    judged = {
        key: v.primary.reason if v.in_scope and v.primary else None for key, v in verdicts.items()
    }
    wrong = {k: (expect.reason(k), judged[k]) for k in judged if judged[k] != expect.reason(k)}
    assert wrong == {}
    # what the generator says it made, against what the tickets themselves show
    own = Counter(expect.own(key) or "traced" for key in expect.tickets)
    made = {k: v for k, v in tally.items() if k not in ("ok", "jira_deployment", "tickets")}
    assert dict(own) == made
    assert 0.27 < own["inherited"] / N < 0.33
    for reason in set(MAP.values()) | {"no-capability", "parent-missing"}:
        if reason is not None:
            assert 0.03 < own[reason] / N < 0.075, (reason, own[reason])
    assert 0.08 < own["parent-cycle"] / N < 0.13  # a cycle takes two tickets
