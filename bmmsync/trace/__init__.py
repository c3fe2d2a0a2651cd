"""Pure trace rules: resolve each ticket's capability and judge its chain. Stdlib only.

The public API other modules use:
- `MappingRules` (rules.py): the config's `mapping:` block as plain data;
- `MapIndex` (index.py): the map indexed once;
- `judge(tickets, index, rules, today) -> list[Verdict]` (judge.py), `Verdict`, `Chain`;
- `Reason`, `reason_table()` (reasons.py): the stable reason codes;
- `map_findings()` (map_findings.py), `compute_metrics()` (metrics.py),
  `explain()` (explain.py), `ChildrenIndex` / `tickets_for_map_change()` (incremental.py).
"""

from bmmsync.trace.explain import ExplainNode, Explanation, explain
from bmmsync.trace.incremental import (
    ChildrenIndex,
    TicketRef,
    changed_capabilities,
    tickets_for_map_change,
)
from bmmsync.trace.index import MapIndex
from bmmsync.trace.judge import (
    SCOPE_CLOSED,
    SCOPE_EXEMPT,
    SCOPE_IGNORED_TYPE,
    SCOPE_PULL_REQUEST,
    Chain,
    Verdict,
    judge,
    tickets_by_source,
)
from bmmsync.trace.map_findings import capabilities_worked_on, map_findings
from bmmsync.trace.metrics import Metrics, compute_metrics
from bmmsync.trace.reasons import Reason, reason_table
from bmmsync.trace.rules import MappingRules

__all__ = [
    "SCOPE_CLOSED",
    "SCOPE_EXEMPT",
    "SCOPE_IGNORED_TYPE",
    "SCOPE_PULL_REQUEST",
    "Chain",
    "ChildrenIndex",
    "ExplainNode",
    "Explanation",
    "MapIndex",
    "MappingRules",
    "Metrics",
    "Reason",
    "TicketRef",
    "Verdict",
    "capabilities_worked_on",
    "changed_capabilities",
    "compute_metrics",
    "explain",
    "judge",
    "map_findings",
    "reason_table",
    "tickets_by_source",
    "tickets_for_map_change",
]
