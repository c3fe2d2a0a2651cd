"""What every demo ticket must come to, written by hand from the seed (`bmmsync/sandbox/demo.py`)
and the map (`config/demo-model.yaml`), not from the planner's output.

Each ticket's outcome is a reason code or one of: `traced`, `exempt` (the `no-trace` label),
`closed` (closed tickets are history: never flagged) and `pull-request` (skipped by
the sync: never stored, never flagged). The bot flags exactly
the tickets whose outcome is an error reason. `motivator-review-overdue` is a warning while
the motivators' review dates lie ahead (they pass from 2027-01-31 on: update this table then).
"""

from __future__ import annotations

TRACED, EXEMPT, CLOSED, PULL_REQUEST = "traced", "exempt", "closed", "pull-request"
REVIEW_OVERDUE = "motivator-review-overdue"

OUTCOMES: dict[str, str] = {
    # acme/web
    "acme/web#1": TRACED,  # cap:self-service-portal
    "acme/web#2": TRACED,  # inherits #1
    "acme/web#3": CLOSED,
    "acme/web#4": TRACED,  # CAP:Guided-Setup, an alias in another case
    "acme/web#5": TRACED,  # "cap: setup-wizard"
    "acme/web#6": TRACED,
    "acme/web#7": TRACED,  # cap:data-export, an alias
    "acme/web#8": TRACED,
    "acme/web#9": "no-capability",
    "acme/web#10": "unknown-capability",  # cap:self-service-portl
    "acme/web#11": "ambiguous-capability",
    "acme/web#12": "retired-capability",
    "acme/web#13": "capability-without-decision",
    "acme/web#14": "decision-without-motivator",
    "acme/web#15": "retired-motivator",
    "acme/web#16": REVIEW_OVERDUE,
    "acme/web#17": EXEMPT,
    "acme/web#18": PULL_REQUEST,
    "acme/web#19": "parent-missing",  # parent acme/web#999
    "acme/web#20": "parent-cycle",
    "acme/web#21": "parent-cycle",
    "acme/web#22": CLOSED,  # not planned
    "acme/web#23": TRACED,
    # acme/mobile
    "acme/mobile#1": TRACED,
    "acme/mobile#2": TRACED,  # inherits #1
    "acme/mobile#3": CLOSED,
    "acme/mobile#4": TRACED,  # Cap:Push-Notifications
    "acme/mobile#5": TRACED,
    "acme/mobile#6": TRACED,
    "acme/mobile#7": "no-capability",
    "acme/mobile#8": "unknown-capability",  # cap:onboarding names a decision
    "acme/mobile#9": REVIEW_OVERDUE,
    "acme/mobile#10": "retired-capability",
    "acme/mobile#11": EXEMPT,
    "acme/mobile#12": TRACED,  # "cap: portal"
    "acme/mobile#13": TRACED,
    "acme/mobile#14": TRACED,  # inherits acme/web#1 across repositories
    "acme/mobile#15": CLOSED,
    "acme/mobile#16": TRACED,
    # Jira PLAT (PLAT-17 is deleted)
    "PLAT-1": TRACED,  # field, a select option
    "PLAT-2": TRACED,  # inherits the epic PLAT-1
    "PLAT-3": CLOSED,  # Done
    "PLAT-4": TRACED,  # sub-task of PLAT-2
    "PLAT-5": TRACED,
    "PLAT-6": TRACED,
    "PLAT-7": TRACED,
    "PLAT-8": TRACED,  # field, a plain string
    "PLAT-9": REVIEW_OVERDUE,
    "PLAT-10": "no-capability",
    "PLAT-11": "retired-motivator",  # field as a list
    "PLAT-12": "decision-without-motivator",
    "PLAT-13": "retired-capability",
    "PLAT-14": TRACED,  # CAP:Observability
    "PLAT-15": "unknown-capability",  # field typo
    "PLAT-16": "ambiguous-capability",  # label and field disagree
    "PLAT-18": "parent-missing",  # its epic PLAT-17 was deleted
    "PLAT-19": "parent-cycle",
    "PLAT-20": "parent-cycle",
    "PLAT-21": EXEMPT,
    "PLAT-22": "capability-without-decision",
    "PLAT-23": CLOSED,  # Done
}

NOT_FLAGGED = {TRACED, EXEMPT, CLOSED, PULL_REQUEST, REVIEW_OVERDUE}
STORED: dict[str, str] = {k: v for k, v in OUTCOMES.items() if v != PULL_REQUEST}
FLAGGED: dict[str, str] = {k: v for k, v in OUTCOMES.items() if v not in NOT_FLAGGED}
