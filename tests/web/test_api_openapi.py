"""Every /api/ route answers what /api/openapi.json says, on both databases."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from bmmsync.web.openapi import ROUTES
from tests.web.conftest import Dashboard


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema | {"components": doc["components"]})


def _check(doc: dict[str, Any], path: str, status: str, body: Any) -> None:
    route = path.split("?")[0]
    template = next(
        p for p in doc["paths"] if p == route or ("{cid}" in p and route.startswith(p[:-5]))
    )
    content = doc["paths"][template]["get"]["responses"][status]["content"]
    schema = content["application/json"]["schema"]
    errors = sorted(_validator(doc, schema).iter_errors(body), key=str)
    assert not errors, f"{path}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_openapi_document_is_valid_and_lists_every_route(dashboard: Dashboard) -> None:
    doc = dashboard.client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert set(doc["paths"]) == set(ROUTES)
    for path in doc["paths"]:
        served = path.replace("{cid}", "self-service-portal")
        served += "?key=PLAT-1" if path == "/api/explain" else ""
        assert dashboard.client.get(served).status_code == 200, path


def test_every_api_route_matches_its_schema(dashboard: Dashboard) -> None:
    client = dashboard.client
    doc = client.get("/api/openapi.json").json()
    ok = [
        "/api/",
        "/api/?source=web",
        "/api/?source=web&project=acme/web",
        "/api/capabilities/self-service-portal",
        "/api/capabilities/self-service-portal?source=platform&page=1",
        "/api/review",
        "/api/review?reason=unknown-capability&sort=-flagged_since&q=a",
        "/api/review?flagged_since=2000-01-01&page=2",
        f"/api/explain?key={dashboard.hostile_key.replace('#', '%23')}",
        "/api/explain?key=PLAT-1",
        "/api/report",
        "/api/report?days=7",
        "/api/map",
        "/api/status",
    ]
    for path in ok:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        _check(doc, path, "200", response.json())
    bad = {
        "/api/review?page=0": ("400", "page"),
        "/api/review?flagged_since=yesterday": ("400", "flagged_since"),
        "/api/review?reason=no-such-reason": ("400", "reason"),
        "/api/report?days=ten": ("400", "days"),
        "/api/?colour=red": ("400", "colour"),
        "/api/capabilities/self-service-portl": ("404", None),
        "/api/explain?key=acme/web%239999": ("404", None),
    }
    for path, (status, parameter) in bad.items():
        response = client.get(path)
        assert str(response.status_code) == status, (path, response.text)
        _check(doc, path, status, response.json())
        assert response.json().get("parameter") == parameter, path


def test_api_figures_are_what_the_store_holds(dashboard: Dashboard) -> None:
    """The twins hold real figures: the review lists exactly the stored broken verdicts."""
    from bmmsync.store.database import Store
    from bmmsync.store.verdict_repo import stored_verdicts

    store = Store.open(dashboard.db_url)
    with store.session() as s:
        verdicts = stored_verdicts(s)
    store.close()
    broken = sum(1 for v in verdicts if v.in_scope and not v.traced)
    in_scope = sum(1 for v in verdicts if v.in_scope)
    review = dashboard.client.get("/api/review").json()
    assert review["results"]["total"] == broken == sum(review["by_reason"].values())
    assert broken and broken > 10
    strategy = dashboard.client.get("/api/").json()
    assert strategy["overall"]["in_scope"] == in_scope
    assert strategy["overall"]["flagged"] == broken
