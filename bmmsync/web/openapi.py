"""The `/api/` routes described as OpenAPI 3.1 (JSON Schema 2020-12), written by hand.

Tests validate every route's answers against these schemas, so the document and the
view-models cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from bmmsync import __version__

NUM = {"type": ["number", "null"]}
STR = {"type": "string"}
OSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}


def _obj(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": required | optional,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


TALLY = _obj(
    {
        "tickets": INT,
        "in_scope": INT,
        "traced": INT,
        "flagged": INT,
        "work": {"type": "number"},
        "untraced_work": {"type": "number"},
        "traceability": NUM,
        "debt_ratio": NUM,
        "last_activity": OSTR,
    }
)
NODE = _obj(
    {
        "id": STR,
        "name": STR,
        "status": STR,
        "open": INT,
        "traced_share": NUM,
        "flagged": INT,
        "health": {"enum": ["good", "fair", "poor", "none"]},
    },
    change=NUM,
    last_activity=OSTR,
    flagged_work=_list(
        _obj({"source": STR, "key": STR, "url": STR, "title": STR, "project": STR, "reason": STR})
    ),
)
FILTERS = _obj(
    {"sources": _list(STR), "projects": _list(_obj({"source": STR, "project": STR}))},
    source=OSTR,
    project=OSTR,
)
FINDING = _obj({"reason": STR, "severity": STR, "detail": STR, "suggestion": STR})
WORK_ITEM = _obj(
    {
        "source": STR,
        "key": STR,
        "url": STR,
        "title": STR,
        "project": STR,
        "state": STR,
        "traced": {"type": "boolean"},
        "reason": OSTR,
        "via": STR,
        "origin": STR,
    }
)


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return _obj({"page": INT, "page_size": INT, "total": INT, "pages": INT, "items": _list(item)})


SHARES = _list(_obj({"id": STR, "amount": {"type": "number"}, "share": NUM}))
UNIT_EFFORT = _obj(
    {
        "unit": {"enum": ["points", "size", "items"]},
        "tickets": INT,
        "total": {"type": "number"},
        "untraced": {"type": "number"},
        "untraced_share": NUM,
        "by_motivator": SHARES,
        "by_decision": SHARES,
        "by_capability": SHARES,
    }
)
KEY_RESULT = _obj(
    {
        "motivator": STR,
        "metric": STR,
        "target": STR,
        "by": OSTR,
        "current": NUM,
        "history": _list({"type": "array", "prefixItems": [STR, {"type": "number"}]}),
        "due": {"type": "boolean"},
        "met": {"type": ["boolean", "null"]},
        "progress": NUM,
        "summary": STR,
    }
)
OUTCOMES = _obj(
    {
        "period": _obj({"label": STR, "start": STR, "end": STR}),
        "effort": _list(UNIT_EFFORT),
        "key_results": _list(KEY_RESULT),
    }
)

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {"error": STR},
        parameter=STR,
        suggestions=_list(_obj({"label": STR, "href": STR})),
    ),
    "Empty": _obj({"empty": {"const": True}, "hint": STR}),
    "Tally": TALLY,
    "Node": NODE,
    "StrategyMap": _obj(
        {
            "filters": FILTERS,
            "computed_at": OSTR,
            "week_ago_snapshot": OSTR,
            "overall": {"oneOf": [_ref("Tally"), {"type": "null"}]},
            "motivators": _list(
                {
                    "allOf": [
                        _ref("Node"),
                        _obj(
                            {
                                "review_by": OSTR,
                                "decisions": _list(
                                    {
                                        "allOf": [
                                            _ref("Node"),
                                            _obj({"capabilities": _list(_ref("Node"))}),
                                        ]
                                    }
                                ),
                            }
                        ),
                    ]
                }
            ),
            "capabilities_without_decision": _list(_ref("Node")),
            "gaps": _obj(
                {
                    "motivators_without_open_work": _list(_obj({"id": STR, "name": STR})),
                    "capabilities_idle_90_days": _list(
                        _obj({"id": STR, "name": STR, "last_activity": OSTR})
                    ),
                }
            ),
        }
    ),
    "Capability": _obj(
        {
            "delivered_90_days": _list(
                _obj({"unit": {"enum": ["points", "size", "items"]}, "amount": NUM, "share": NUM})
            ),
            "id": STR,
            "name": STR,
            "status": STR,
            "aliases": _list(STR),
            "filters": FILTERS,
            "chain": _list(
                _obj(
                    {
                        "id": STR,
                        "name": STR,
                        "status": STR,
                        "motivators": _list(_obj({"id": STR, "name": STR, "status": STR})),
                    }
                )
            ),
            "figures": {"oneOf": [_ref("Tally"), {"type": "null"}]},
            "breakdown": _list(
                {
                    "allOf": [
                        _ref("Tally"),
                        _obj({"kind": {"enum": ["source", "project"]}, "name": STR}),
                    ]
                }
            ),
            "open_work": _listing(WORK_ITEM),
            "flagged": _listing(WORK_ITEM),
            "closed_90_days": INT,
            "recently_closed": _list(
                _obj(
                    {
                        "source": STR,
                        "key": STR,
                        "url": STR,
                        "title": STR,
                        "project": STR,
                        "closed_at": STR,
                        "traced": {"type": "boolean"},
                    }
                )
            ),
            "velocity": _obj(
                {
                    "weeks": _list(_obj({"week": STR, "items": INT})),
                    "items_per_week": {"type": "number"},
                }
            ),
        }
    ),
    "Review": _obj(
        {
            "filters": {
                "allOf": [
                    FILTERS,
                    _obj(
                        {
                            "reason": OSTR,
                            "q": OSTR,
                            "flagged_since": OSTR,
                            "sort": STR,
                            "reasons": _list(STR),
                        }
                    ),
                ]
            },
            "by_reason": {"type": "object", "additionalProperties": INT},
            "counts_capped": {"type": "boolean"},
            "results": _listing(
                _obj(
                    {
                        "source": STR,
                        "key": STR,
                        "url": STR,
                        "title": STR,
                        "project": STR,
                        "assignee": OSTR,
                        "reason": STR,
                        "detail": STR,
                        "suggestion": STR,
                        "flagged_since": OSTR,
                        "age_days": {"type": ["integer", "null"]},
                        "explain": STR,
                    }
                )
            ),
        }
    ),
    "ExplainNode": _obj(
        {
            "kind": STR,
            "id": STR,
            "title": STR,
            "status": STR,
            "provenance": STR,
            "ok": {"type": "boolean"},
            "children": _list(_ref("ExplainNode")),
        }
    ),
    "Explain": _obj(
        {
            "key": STR,
            "source": STR,
            "traced": {"type": "boolean"},
            "in_scope": {"type": "boolean"},
            "broken_step": OSTR,
            "suggestion": STR,
            "findings": _list(FINDING),
            "tree": _ref("ExplainNode"),
        }
    ),
    "Report": _obj(
        {
            "outcomes": OUTCOMES,
            "days": INT,
            "computed_at": STR,
            "as_of": STR,
            "since": STR,
            "overall": {
                "type": "object",
                "additionalProperties": _obj({"now": NUM, "first": NUM, "change": NUM}),
            },
            "counts": _obj({"tickets": INT, "in_scope": INT, "traced": INT}),
            "by_source": {"type": "object"},
            "by_project": {"type": "object"},
            "by_capability": {"type": "object"},
            "goals": {"type": "object"},
            "coverage": {"type": "object"},
            "trend": _obj(
                {
                    "snapshots": INT,
                    "first_taken_at": OSTR,
                    "series": _list(_obj({"taken_at": STR, "traceability": NUM})),
                }
            ),
        }
    ),
    "Map": _obj(
        {
            "computed_at": STR,
            "findings": _list(FINDING),
            "motivators_overdue": _list(
                _obj({"id": STR, "name": STR, "review_by": STR, "owner": STR})
            ),
            "retired_capabilities_in_use": _list(_obj({"id": STR, "name": STR, "open": INT})),
            "unknown_references": _list(
                _obj(
                    {
                        "detail": STR,
                        "suggestion": STR,
                        "tickets": INT,
                        "examples": _list(_obj({"source": STR, "key": STR})),
                    }
                )
            ),
        }
    ),
    "Status": _obj(
        {
            "runs": _list(
                _obj(
                    {
                        "id": STR,
                        "started_at": STR,
                        "finished_at": OSTR,
                        "holder": STR,
                        "result": STR,
                        "errors": _list(STR),
                    }
                )
            ),
            "lease": {"oneOf": [_obj({"holder": STR, "expires_at": STR}), {"type": "null"}]},
            "sources": _list(
                _obj(
                    {
                        "name": STR,
                        "kind": STR,
                        "last_sync_at": OSTR,
                        "last_result": OSTR,
                        "last_error": OSTR,
                        "rate_limit_remaining": {"type": ["integer", "null"]},
                        "flagged": INT,
                        "deferred": INT,
                    }
                )
            ),
            "writes_deferred": INT,
            "writes": _list(_obj({"action": STR, "status": STR, "count": INT})),
        }
    ),
}


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or STR}  # fmt: skip


PARAMS = {
    "source": _param("source", "Only this source (its name in the config)."),
    "project": _param("project", "Only this project: a repository or a Jira project key."),
    "page": _param("page", "Page of a long list, from 1.", {"type": "integer", "minimum": 1}),
    "reason": _param("reason", "Only this reason code."),
    "q": _param("q", "Text in the key or title.", {"type": "string", "maxLength": 200}),
    "flagged_since": _param(
        "flagged_since", "Flagged on or after this day.", {"type": "string", "format": "date"}
    ),
    "capability": _param(
        "capability", "Only items linked to this capability (its flagged count on the map)."
    ),
    "sort": _param("sort", "reason, key, title, flagged_since or project; a leading - reverses."),
    "key": _param("key", "The ticket key: owner/repo#N or KEY-N (required)."),
    "days": _param(
        "days",
        "Window of snapshots and of delivered work, in days (default 90, at most 366).",
        {"type": "integer", "minimum": 1, "maximum": 366},
    ),
}

ROUTES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "/api/": (
        "StrategyMap",
        "The strategy map: motivators > decisions > capabilities, and the gaps.",
        ("source", "project"),
    ),
    "/api/capabilities/{cid}": (
        "Capability",
        "One capability: the chain up, its figures, its work.",
        ("source", "project", "page"),
    ),
    "/api/review": (
        "Review",
        "Items whose trace is broken, as of the last check.",
        ("source", "project", "reason", "q", "flagged_since", "capability", "sort", "page"),
    ),
    "/api/explain": ("Explain", "One ticket's chain, or where it breaks.", ("key", "source")),
    "/api/report": ("Report", "The figures, per group, and their trend.", ("days",)),
    "/api/map": ("Map", "For admins: map findings, overdue reviews, unknown names.", ()),
    "/api/status": ("Status", "Runs, sources, the lease, writes.", ()),
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, (schema, summary, params) in ROUTES.items():
        parameters = [PARAMS[p] | {"required": p == "key"} for p in params]
        if "{cid}" in path:
            parameters.insert(0, {"name": "cid", "in": "path", "required": True, "schema": STR})
        error = {"application/json": {"schema": _ref("Error")}}
        responses: dict[str, Any] = {
            "200": {
                "description": "The page's view-model (or, before the first check, a hint).",
                "content": {
                    "application/json": {"schema": {"oneOf": [_ref(schema), _ref("Empty")]}}
                },
            },
            "400": {"description": "A query parameter is wrong; it is named.", "content": error},
            "503": {"description": "The store is not reachable.", "content": error},
        }
        if "{cid}" in path or path == "/api/explain":
            responses["404"] = {
                "description": "Unknown id or key, with suggestions.",
                "content": error,
            }
        paths[path] = {
            "get": {
                "summary": summary,
                "operationId": schema[0].lower() + schema[1:],
                "parameters": parameters,
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bmmsync dashboard API",
            "version": __version__,
            "description": "Read-only JSON twins of the dashboard's pages: same paths under"
            " /api/, same query parameters.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
