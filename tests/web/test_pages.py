"""Every page over a real store: HTML that works without script, headers, hostile text,
errors that help, the downloads equal `bmmsync review`, an empty and a missing store."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from bmmsync.config.settings import load_config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.service.runner import run_once
from bmmsync.store.database import Store
from bmmsync.web.app import create_app
from bmmsync.web.storehandle import StoreHandle
from tests.cli.helpers import run_cli, write_config
from tests.web.conftest import HOSTILE_LABEL, HOSTILE_TITLE, Dashboard

PAGES = ["/", "/review", "/report", "/map", "/status", "/capabilities/self-service-portal"]


def test_every_page_renders_with_strict_headers(dashboard: Dashboard) -> None:
    for path in [*PAGES, "/explain?key=PLAT-1", "/livez", "/api/"]:
        response = dashboard.client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        if response.headers["content-type"].startswith("text/html"):
            body = response.text
            assert "<script>" not in body and " style=" not in body and "onclick" not in body
            assert re.findall(r'<script src="([^"]+)"', body) == ["/static/app.js"]
            assets = re.findall(r'(?:src|<link[^>]*href)="([^"]+)"', body)
            assert assets and all(a.startswith("/static/") for a in assets), assets  # no CDN


def test_strategy_map_tree_and_gaps(dashboard: Dashboard) -> None:
    body = dashboard.client.get("/").text
    assert body.count("<details") >= 3 and "<summary" in body
    assert "Strategy gaps" in body and 'href="/capabilities/self-service-portal' in body
    model = dashboard.client.get("/api/").json()
    portal = [
        c
        for m in model["motivators"]
        for d in m["decisions"]
        for c in d["capabilities"]
        if c["id"] == "self-service-portal"
    ]
    assert portal and portal[0]["open"] > 0 and portal[0]["health"] in {"good", "fair", "poor"}
    flagged_work = [
        w
        for m in model["motivators"]
        for d in m["decisions"]
        for c in d["capabilities"]
        for w in c["flagged_work"]
    ]
    assert flagged_work and all(w["reason"] for w in flagged_work)
    # the tree links each flagged count to /review, which lists exactly those items
    flagged = [c for m in model["motivators"] for d in m["decisions"] for c in d["capabilities"]
               if c["flagged"]]  # fmt: skip
    href = f"/review?capability={flagged[0]['id']}"
    assert f'href="{href}">{flagged[0]["flagged"]} flagged</a>' in body
    listed = dashboard.client.get("/api" + href).json()["results"]
    assert listed["total"] == flagged[0]["flagged"]
    assert {w["key"] for w in flagged[0]["flagged_work"]} <= {i["key"] for i in listed["items"]}
    assert "/review?capability=" not in dashboard.client.get("/review").text
    only_jira = dashboard.client.get("/api/?source=platform").json()
    assert only_jira["overall"]["in_scope"] < model["overall"]["in_scope"]


def test_hostile_text_is_shown_as_text(dashboard: Dashboard) -> None:
    client = dashboard.client
    key = dashboard.hostile_key.replace("#", "%23")
    for path in ["/review", "/review?q=pwned", f"/explain?key={key}", "/map"]:
        body = client.get(path).text
        assert "<script>window.pwned" not in body and "<img src=x" not in body, path
        assert "alert(1)</script>" not in body, path
    review = client.get("/review?q=pwned").text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in review
    assert "\u202eevil" in review  # shown, isolated by CSS (unicode-bidi), not executed
    explain = client.get(f"/explain?key={key}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in explain or HOSTILE_LABEL not in explain
    api = client.get(f"/api/explain?key={key}").json()
    assert api["tree"]["title"] == HOSTILE_TITLE


def test_javascript_urls_are_never_links(dashboard: Dashboard) -> None:
    for path in PAGES:
        assert "javascript:" not in dashboard.client.get(path).text.lower(), path


def test_bad_input_is_a_400_naming_the_parameter(dashboard: Dashboard) -> None:
    client = dashboard.client
    cases = {
        "/review?page=abc": "page",
        "/review?page=-1": "page",
        "/review?page=0": "page",
        "/review?flagged_since=2026-13-45": "flagged_since",
        "/review?sort=colour": "sort",
        "/review?reason=%3Cscript%3E": "reason",
        "/report?days=1e9": "days",
        "/capabilities/self-service-portal?page=x": "page",
        "/?sourec=web": "sourec",
        "/explain": "key",
        "/review?q=" + "x" * 300: "q",
    }
    for path, name in cases.items():
        response = client.get(path)
        assert response.status_code == 400, path
        assert f"<code>{name}</code>" in response.text or name == "key", path
        assert f"&#39;{name}&#39;" in response.text, path
    assert "<script>" not in client.get("/review?reason=%3Cscript%3E").text


def test_unknown_ids_are_404s_that_help(dashboard: Dashboard) -> None:
    client = dashboard.client
    response = client.get("/capabilities/self-service-portl")
    assert response.status_code == 404
    assert 'href="/capabilities/self-service-portal"' in response.text
    response = client.get("/explain?key=acme/web%2399999")
    assert response.status_code == 404 and "no stored ticket" in response.text
    wrong = client.get("/api/explain?key=acme/web%2399999").json()
    assert wrong["suggestions"]
    follow = wrong["suggestions"][0]["href"]
    assert client.get("/api" + follow).json()["key"] == wrong["suggestions"][0]["label"]
    response = client.get("/explain?key=plat-1")
    assert response.status_code == 404 and 'href="/explain?key=PLAT-1"' in response.text
    response = client.get("/no/such/page")
    assert response.status_code == 404 and 'href="/review"' in response.text


def test_only_get_and_head(dashboard: Dashboard) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = dashboard.client.request(method, "/review")
        assert response.status_code == 405, method
        assert response.headers["x-frame-options"] == "DENY"
    assert dashboard.client.head("/review").status_code == 200


def test_review_filters_sort_and_pages(dashboard: Dashboard) -> None:
    client = dashboard.client
    everything = client.get("/api/review").json()
    reasons = everything["by_reason"]
    reason = max(reasons, key=reasons.get)
    narrowed = client.get(f"/api/review?reason={reason}").json()
    assert narrowed["results"]["total"] == reasons[reason] < everything["results"]["total"]
    assert {r["reason"] for r in narrowed["results"]["items"]} == {reason}
    jira = client.get("/api/review?source=platform").json()["results"]["items"]
    assert jira and {r["source"] for r in jira} == {"platform"}
    by_key = [r["key"] for r in client.get("/api/review?sort=key").json()["results"]["items"]]
    assert by_key == sorted(by_key, key=lambda k: k) or len(set(by_key)) == len(by_key)
    for item in [r for r in jira + everything["results"]["items"] if "#" in r["key"]][:2] + jira[
        :1
    ]:
        assert client.get(item["explain"]).status_code == 200  # GitHub keys hold a '#'
        assert client.get("/api" + item["explain"]).json()["key"] == item["key"]
    found = client.get("/api/review?q=PWNED").json()["results"]["items"]
    assert [r["key"] for r in found] == [dashboard.hostile_key]
    assert client.get("/api/review?flagged_since=2999-01-01").json()["results"]["total"] == 0


@pytest.mark.parametrize("kind,fmt", [("csv", "csv"), ("md", "markdown"), ("json", "json")])
def test_downloads_are_the_records_of_bmmsync_review(
    dashboard: Dashboard, kind: str, fmt: str
) -> None:
    response = dashboard.client.get(f"/review/download.{kind}?source=web")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    cli = run_cli("--config", str(dashboard.config_path), "review", "--source", "web",
                  "--format", fmt)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    if kind == "csv":  # the CLI's stdout was read with universal newlines
        assert list(csv.reader(io.StringIO(response.text))) == list(
            csv.reader(io.StringIO(cli.stdout))
        )
    else:
        assert response.text.strip() == cli.stdout.strip()
    assert "pwned" in response.text  # the hostile ticket is among them


def test_empty_store_says_what_to_run(tmp_path: Path, db_url: str) -> None:
    config = load_config(write_config(tmp_path, db_url))
    client = TestClient(create_app(config, StoreHandle(db_url)))
    for path in ["/", "/review", "/report", "/map", "/capabilities/x"]:
        response = client.get(path)
        assert response.status_code in (200, 404), path
    body = client.get("/").text
    assert "bmmsync run --once" in body
    assert client.get("/api/review").json() == {
        "empty": True,
        "hint": client.get("/api/").json()["hint"],
    }
    assert client.get("/status").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_store_down_then_back(tmp_path: Path) -> None:
    """A store that cannot be opened answers 503 (readyz and pages) and the process keeps
    serving; once the database can be opened, the same app answers."""
    blocker = tmp_path / "data"
    blocker.write_text("a file where the store's directory should be")
    url = f"sqlite:///{blocker / 'store.db'}"
    config = load_config(write_config(tmp_path, url))
    client = TestClient(create_app(config, StoreHandle(url)))
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "cannot open the store" in ready.text
    page = client.get("/review")
    assert page.status_code == 503 and "/readyz" in page.text
    assert client.get("/api/status").status_code == 503
    assert client.get("/api/status").json()["error"].startswith("the store is not reachable")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "bmmsync_store_up 0.0" in metrics.text
    blocker.unlink()
    blocker.mkdir()
    assert client.get("/readyz").status_code == 200
    assert client.get("/status").status_code == 200
    assert "bmmsync run --once" in client.get("/").text


def test_schema_behind_is_not_ready(tmp_path: Path, db_url: str) -> None:
    config = load_config(write_config(tmp_path, db_url))
    client = TestClient(create_app(config, StoreHandle(db_url)))
    assert client.get("/readyz").status_code == 200
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    response = client.get("/readyz")
    assert response.status_code == 503 and "0001" in response.text


def test_closing_work_moves_it_to_delivery_and_velocity(
    dashboard: Dashboard, sandbox_control: SandboxControl
) -> None:
    """A traced ticket closed in the tracker leaves the open work and counts as delivered
    this week, once the next run's check has recomputed the figures."""
    client = dashboard.client
    before = client.get("/api/capabilities/self-service-portal?source=web").json()
    open_web = [t for t in before["open_work"]["items"] if t["traced"]]
    assert open_web, "the demo has traced web work on the portal"
    target = open_web[0]
    repo, number = target["key"].split("#")
    sandbox_control.github_change(repo, int(number), state="closed", state_reason="completed")
    store = Store.open(dashboard.db_url)
    try:
        report = run_once(dashboard.config, store)
    finally:
        store.close()
    assert report.result == "ok", report.errors
    after = client.get("/api/capabilities/self-service-portal?source=web").json()
    assert after["closed_90_days"] == before["closed_90_days"] + 1
    assert after["velocity"]["weeks"][-1]["items"] == before["velocity"]["weeks"][-1]["items"] + 1
    assert target["key"] in [t["key"] for t in after["recently_closed"]]
    assert target["key"] not in [t["key"] for t in after["open_work"]["items"]]
    assert after["open_work"]["total"] == before["open_work"]["total"] - 1
