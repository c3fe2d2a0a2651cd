"""web.auth per mode, over real HTTP (the proxy mode needs a real client address), plus the
config rules: `none` only on loopback, every mode complete."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from bmmsync.config.settings import load_config
from bmmsync.errors import ConfigError
from bmmsync.web.app import create_app
from bmmsync.web.server import DashboardServer
from bmmsync.web.storehandle import StoreHandle
from tests.cli.helpers import run_cli, write_config

PAGES = ["/", "/review", "/api/status", "/report"]


def _serve(tmp_path: Path, web: str) -> DashboardServer:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    config = load_config(write_config(tmp_path, url, extra=f"web: {web}\n"))
    return DashboardServer(create_app(config, StoreHandle(url)), "127.0.0.1", 0)


def _get(server: DashboardServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=30)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _statuses(server: DashboardServer, **headers: str) -> set[int]:
    return {_get(server, p, **headers).status_code for p in PAGES}


def test_none_is_open(tmp_path: Path) -> None:
    with _serve(tmp_path, "{auth: none}") as server:
        assert _statuses(server) == {200}


def test_basic(tmp_path: Path) -> None:
    hashed = PasswordHasher().hash("s3cret pass")
    web = f'{{auth: basic, users: {{ana: "{hashed}"}}, metrics_open: false}}'
    with _serve(tmp_path, web) as server:
        refused = _get(server, "/review")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert refused.headers["x-frame-options"] == "DENY"
        assert _statuses(server, authorization=_basic("ana", "wrong")) == {401}
        assert _statuses(server, authorization=_basic("bob", "s3cret pass")) == {401}
        assert _statuses(server, authorization="Basic !!notbase64") == {401}
        assert _statuses(server, authorization=_basic("ana", "s3cret pass")) == {200}
        assert _get(server, "/livez").status_code == 200
        assert _get(server, "/readyz").status_code == 200
        assert _get(server, "/metrics").status_code == 401
        assert (
            _get(server, "/metrics", authorization=_basic("ana", "s3cret pass")).status_code == 200
        )


def test_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASH_TOKEN", "t0ken-from-env")
    with _serve(tmp_path, "{auth: token, token: '${DASH_TOKEN}'}") as server:
        assert _statuses(server) == {401}
        assert _statuses(server, authorization="Bearer wrong") == {401}
        assert _statuses(server, authorization="Bearer t0ken-from-env") == {200}
        assert _get(server, "/metrics").status_code == 200  # open by default
        assert _get(server, "/livez").status_code == 200


def test_proxy_trusts_the_header_only_from_the_proxy(tmp_path: Path) -> None:
    web = "{auth: proxy, trusted_proxies: [127.0.0.1/32], proxy_user_header: X-Auth-User}"
    with _serve(tmp_path, web) as server:
        assert _statuses(server) == {403}
        assert _statuses(server, **{"x-auth-user": "ana"}) == {200}
    other = tmp_path / "other"
    other.mkdir()
    with _serve(other, "{auth: proxy, trusted_proxies: [10.0.0.0/8]}") as server:
        assert _statuses(server, **{"x-forwarded-user": "ana"}) == {403}
        assert _get(server, "/livez").status_code == 200


@pytest.mark.parametrize(
    "web,expected",
    [
        ("{listen: 0.0.0.0:8080}", "auth basic, token or proxy when listen is not a loopback"),
        ("{auth: basic}", "expected `users` with auth basic"),
        ("{auth: token}", "expected a `token` with auth token"),
        ("{auth: proxy}", "expected `trusted_proxies` with auth proxy"),
        ("{auth: basic, users: {ana: plain}}", "expected an argon2 hash"),
        ("{listen: nowhere}", "expected HOST:PORT"),
        ("{auth: proxy, trusted_proxies: [not-an-ip]}", "expected an IP address or network"),
    ],
)
def test_config_check_refuses(tmp_path: Path, web: str, expected: str) -> None:
    path = write_config(tmp_path, "sqlite:///x.db", extra=f"web: {web}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problem = caught.value.problems[0]
    assert expected in problem and problem.startswith(f"{path}:3: web")
    result = run_cli("--config", str(path), "config", "check")
    assert result.returncode == 2 and expected in result.stderr
    assert "Traceback" not in result.stderr


def test_loopback_accepted_and_token_masked(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("DASH_TOKEN", "t0ken-from-env")
    for web in ("{listen: localhost:9000}", "{listen: '[::1]:9000'}",
                "{listen: 0.0.0.0:80, auth: token, token: '${DASH_TOKEN}'}"):  # fmt: skip
        path = write_config(tmp_path, "sqlite:///x.db", extra=f"web: {web}\n")
        assert "t0ken" not in repr(load_config(path))
    checked = run_cli("--config", str(path), "config", "check", env={"DASH_TOKEN": "t0ken-x"})
    assert checked.returncode == 0, checked.stderr
    assert "dashboard: http://0.0.0.0:80/, auth token" in checked.stdout
    assert "t0ken" not in checked.stdout
