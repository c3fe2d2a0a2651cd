"""The endpoints against bad input: forged, unsigned, oversized, not JSON, replayed,
unwatched; each refused with nothing echoed, counted by cause, and nothing queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bmmsync.config.secrets import Secret
from bmmsync.config.settings import Config, load_config
from bmmsync.hooks.routes import MAX_BODY, hook_routes
from bmmsync.hooks.signature import sign
from bmmsync.store.database import Store
from bmmsync.store.event_queue import claim, depth, health
from bmmsync.web.app import create_app
from bmmsync.web.storehandle import StoreHandle
from tests.cli.helpers import REPO, run_cli

SECRET = "s3cret-for-github"
JIRA = "s3cret-for-jira"
FORGED = "<script>alert(1)</script>\x1b[31m"


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Config:
    path = tmp_path / "bmmsync.yaml"
    path.write_text(
        f"""store: {{url: "{db_url}"}}
model_file: {REPO / "config" / "demo-model.yaml"}
sources:
  - {{name: web, kind: github, base_url: "http://127.0.0.1:9/github", token: t, orgs: [acme]}}
  - {{name: plat, kind: jira, url: "https://acme.atlassian.net", deployment: cloud,
      email: bot@example.com, token: t, jql: project = PLAT}}
webhooks: {{github_secret: {SECRET}, jira_secret: {JIRA}}}
"""
    )
    return load_config(path)


@pytest.fixture
def client(config: Config, store: Store) -> TestClient:
    return TestClient(Starlette(routes=hook_routes(lambda: config, store)))


def _issue_event(repo: str = "acme/web", number: int = 9, action: str = "labeled") -> bytes:
    return json.dumps(
        {
            "action": action,
            "issue": {"number": number, "title": FORGED, "labels": []},
            "label": {"name": "cap:portal"},
            "repository": {"full_name": repo},
            "sender": {"login": "alice"},
        }
    ).encode()


def _github(
    client: TestClient, body: bytes, *, secret: str | None = SECRET, delivery: str = "d-1", **h: str
) -> Any:
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery, **h}
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return client.post("/hooks/github", content=body, headers=headers)


def _refusals(store: Store, tracker: str = "github") -> dict[str, int]:
    with store.session() as s:
        return next(h.refusals for h in health(s, [tracker]))


def _depth(store: Store) -> int:
    with store.session() as s:
        return depth(s)


def test_a_signed_delivery_is_queued_once_and_a_replay_is_not(
    client: TestClient, store: Store
) -> None:
    body = _issue_event()
    first = _github(client, body)
    again = _github(client, body)  # GitHub's redelivery keeps the delivery id
    assert (first.status_code, again.status_code) == (202, 200)
    assert _depth(store) == 1
    assert _refusals(store) == {"duplicate": 1}
    with store.session() as s:
        (event,) = claim(s, "t", datetime.now(UTC), timedelta(seconds=60)).events
    assert (event.source, event.keys, event.event) == ("web", ("acme/web#9",), "issues.labeled")
    assert event.detail == {"label": "cap:portal", "added": True}


@pytest.mark.parametrize(
    ("headers", "cause"),
    [
        ({"secret": None}, "unsigned"),
        ({"secret": "not-the-secret"}, "bad-signature"),
        ({"secret": JIRA}, "bad-signature"),  # the other tracker's secret
    ],
)
def test_unsigned_or_forged_is_401_with_nothing_echoed(
    client: TestClient, store: Store, headers: dict[str, Any], cause: str
) -> None:
    answer = _github(client, _issue_event(), **headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized"}
    assert FORGED not in answer.text and "acme" not in answer.text
    assert _refusals(store) == {cause: 1}
    assert _depth(store) == 0


def test_a_signature_over_other_bytes_is_refused(client: TestClient, store: Store) -> None:
    """The signature covers the raw body: re-serialised JSON of the same payload fails."""
    body = _issue_event()
    pretty = json.dumps(json.loads(body), indent=2).encode()
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(SECRET, body)}
    assert client.post("/hooks/github", content=pretty, headers=headers).status_code == 401


def test_a_body_over_one_megabyte_is_413_before_any_check(client: TestClient, store: Store) -> None:
    body = b"{" + b" " * MAX_BODY + b"}"
    answer = _github(client, body)
    assert answer.status_code == 413 and answer.json() == {"error": "payload too large"}
    assert _refusals(store) == {"too-large": 1}


def test_a_chunked_body_over_one_megabyte_is_413_as_it_arrives(
    client: TestClient, store: Store
) -> None:
    """No Content-Length to refuse early: the cap counts the body as it streams in."""
    body = b"{" + b" " * MAX_BODY + b"}"
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": sign(SECRET, body)}
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    answer = client.post("/hooks/github", content=chunks, headers=headers)
    assert answer.status_code == 413 and answer.json() == {"error": "payload too large"}
    assert _refusals(store) == {"too-large": 1}
    assert _depth(store) == 0


def test_signed_but_not_json_is_400(client: TestClient, store: Store) -> None:
    answer = _github(client, b"this is {not json")
    assert answer.status_code == 400
    assert _refusals(store) == {"not-json": 1}
    assert _depth(store) == 0


def test_unwatched_repositories_and_other_events_are_ignored_and_counted(
    client: TestClient, store: Store
) -> None:
    assert _github(client, _issue_event(repo="other/repo"), delivery="a").status_code == 202
    assert _github(client, _issue_event(action="pinned"), delivery="b").status_code == 202
    bad = json.dumps({"action": "opened", "issue": {"number": "9; DROP"}, "repository": {}})
    assert _github(client, bad.encode(), delivery="c").status_code == 400
    ping = client.post(
        "/hooks/github",
        content=b"{}",
        headers={"X-GitHub-Event": "ping", "X-Hub-Signature-256": sign(SECRET, b"{}")},
    )
    assert ping.status_code == 200
    assert _refusals(store) == {"ignored-event": 1, "malformed": 1, "unwatched": 1}
    assert _depth(store) == 0


def _jira_event(key: str = "PLAT-10", stamp: int = 1_700_000_000_000) -> bytes:
    ident = str(10_000 + int(key.rsplit("-", 1)[1]))
    return json.dumps(
        {
            "timestamp": stamp,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_updated",
            "issue": {
                "id": ident,
                "key": key,
                "self": f"https://acme.atlassian.net/rest/api/2/issue/{ident}",
            },
            "changelog": {"items": [{"field": "labels", "fromString": "a", "toString": "a b"}]},
        }
    ).encode()


def test_jira_signature_and_dedupe_without_the_identifier_header(
    client: TestClient, store: Store
) -> None:
    def post(body: bytes, secret: str = JIRA, **headers: str) -> int:
        headers["X-Hub-Signature"] = sign(secret, body)
        return client.post("/hooks/jira", content=body, headers=headers).status_code

    assert post(_jira_event(), SECRET) == 401  # GitHub's secret does not sign Jira's hooks
    assert post(_jira_event()) == 202
    assert post(_jira_event()) == 200  # same timestamp and issue: a retry
    assert post(_jira_event(stamp=1_700_000_000_001)) == 202
    assert post(_jira_event(key="PLAT-11")) == 202  # same timestamp, another issue
    assert post(_jira_event(), **{"X-Atlassian-Webhook-Identifier": "w-1"}) == 202
    assert post(_jira_event(), **{"X-Atlassian-Webhook-Identifier": "w-1"}) == 200
    other_site = _jira_event().replace(b"acme.atlassian.net", b"evil.example")
    assert post(other_site) == 202
    assert _depth(store) == 4
    assert _refusals(store, "jira") == {"bad-signature": 1, "duplicate": 2, "unwatched": 1}


def test_an_endpoint_without_a_secret_accepts_nothing(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(f'store: {{url: "{db_url}"}}\nmodel_file: {REPO / "config/demo-model.yaml"}\n')
    bare = load_config(path)
    client = TestClient(Starlette(routes=hook_routes(lambda: bare, store)))
    assert _github(client, _issue_event()).status_code == 401
    assert _refusals(store) == {"no-secret": 1}


def test_on_the_dashboard_the_hooks_pass_its_auth_and_show_in_metrics(
    tmp_path: Path, config: Config, store: Store, db_url: str
) -> None:
    """Mounted as `bmmsync run` mounts them: outside the dashboard's token auth (they are
    signed), and their refusals and queue depth appear in /metrics."""
    guarded = config.model_copy(
        update={"web": config.web.model_copy(update={"auth": "token", "token": Secret("web-tok")})}
    )
    handle = StoreHandle(db_url)
    app = create_app(
        guarded,
        handle,
        extra_routes=hook_routes(lambda: guarded, store),
        open_prefixes=("/hooks/",),
    )
    try:
        with TestClient(app) as client:
            assert client.get("/review").status_code == 401  # the dashboard is guarded
            assert _github(client, _issue_event()).status_code == 202  # the hook is not
            assert _github(client, _issue_event(), secret=None).status_code == 401
            metrics = client.get("/metrics").text
    finally:
        handle.close()
    assert "bmmsync_webhook_queue_depth 1.0" in metrics
    assert 'bmmsync_webhook_refusals_total{cause="unsigned",tracker="github"} 1.0' in metrics


def test_webhooks_check_shows_the_last_delivery_and_refusals_by_cause(
    client: TestClient, config: Config, store: Store
) -> None:
    assert _github(client, _issue_event()).status_code == 202
    assert _github(client, _issue_event(), secret="forged", delivery="x").status_code == 401
    assert config.path is not None
    table = run_cli("--config", str(config.path), "webhooks", "check")
    as_json = run_cli("--config", str(config.path), "webhooks", "check", "--format", "json")
    assert table.returncode == 1  # Jira's secret is set, but nothing ever came from Jira
    assert "bad-signature=1" in table.stdout and "never" in table.stdout
    assert "jira: no delivery has arrived yet" in table.stdout
    assert SECRET not in table.stdout + table.stderr + as_json.stdout
    github, jira = json.loads(as_json.stdout)["trackers"]
    assert (github["deliveries"], github["pending"], github["refusals"]) == (
        1,
        1,
        {"bad-signature": 1},
    )
    assert jira["last_delivery"] is None and jira["configured"] is True
