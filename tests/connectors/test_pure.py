"""The pure pieces of the connectors: classifier, back-off, paging, JQL, ticket mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from bmmsync.errors import SourceError
from connectors.http_errors import (
    BACKOFF_CAP,
    HttpFailure,
    Kind,
    Retrier,
    backoff,
    classify,
    failure_of,
)
from connectors.jira.tickets import polling_jql, text_to_adf
from connectors.paging import RepeatedPageToken, follow_pages


def failure(status: int | None, **headers: str) -> HttpFailure:
    return HttpFailure(status, {k.replace("_", "-"): v for k, v in headers.items()}, "msg")


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (500, {}, Kind.RETRIABLE),
        (503, {}, Kind.RETRIABLE),
        (None, {}, Kind.RETRIABLE),
        (429, {}, Kind.RETRIABLE),
        (403, {"retry_after": "3"}, Kind.RETRIABLE),
        (403, {"x_ratelimit_remaining": "0"}, Kind.RATE_LIMITED),
        (429, {"x_ratelimit_remaining": "0"}, Kind.RATE_LIMITED),
        (401, {}, Kind.FATAL),
        (403, {}, Kind.FATAL),
        (400, {}, Kind.FATAL),
        (404, {}, Kind.FATAL),
        (422, {}, Kind.FATAL),
    ],
)
def test_classify(status: int | None, headers: dict[str, str], kind: Kind) -> None:
    assert classify(failure(status, **headers)) is kind


def test_tolerated_only_when_named() -> None:
    assert classify(failure(404), tolerate=(404,)) is Kind.TOLERATED
    assert classify(failure(500), tolerate=(404,)) is Kind.RETRIABLE


def test_malformed_json_is_fatal_not_a_connection_error() -> None:
    try:
        requests.Response().json()
    except Exception as exc:  # requests' JSONDecodeError subclasses RequestException too
        found = failure_of(exc)
    assert found is not None and found.malformed
    assert classify(found) is Kind.FATAL
    assert classify(failure_of(json.JSONDecodeError("x", "{", 0))) is Kind.FATAL  # type: ignore[arg-type]


def test_backoff_grows_is_jittered_and_capped() -> None:
    assert backoff(1, lambda: 0.0) == 0.5
    assert backoff(1, lambda: 1.0) == 1.0
    assert backoff(3, lambda: 1.0) == 4.0
    assert backoff(30, lambda: 1.0) == BACKOFF_CAP


def test_retrier_retries_then_gives_up_naming_the_source() -> None:
    slept: list[float] = []
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        raise requests.ConnectionError("refused")

    retrier = Retrier("web", "`token` of source 'web'", slept.append, attempts=3)
    with pytest.raises(SourceError, match=r"source 'web'.*gave up after 3 attempts"):
        retrier.call(flaky, "listing")
    assert calls == 3 and len(slept) == 2


def test_fatal_auth_names_the_setting_never_the_token() -> None:
    retrier = Retrier("web", "`token` of source 'web'", lambda s: None)
    error = retrier.fatal(HttpFailure(401, {}, "Bad credentials"), "listing")
    assert "`token` of source 'web'" in str(error) and "401" in str(error)


def test_paging_stops_on_a_repeated_token() -> None:
    tokens = {None: "a", "a": "b", "b": "a"}
    pages = follow_pages(lambda t: (t, tokens[t]), source="web", what="listing")
    with pytest.raises(RepeatedPageToken, match="repeated page token 'a'"):
        list(pages)


def test_paging_ends_without_token() -> None:
    tokens = {None: 1, 1: 2, 2: None}
    assert list(follow_pages(lambda t: (t, tokens[t]), source="s", what="w")) == [None, 1, 2]


def test_jql_in_user_time_zone_floored_to_the_minute() -> None:
    since = datetime(2024, 3, 1, 23, 30, 59, tzinfo=UTC)
    jql = polling_jql("project = PLAT ORDER BY created", since, "Asia/Tokyo")
    assert jql == (
        '(project = PLAT) AND updated >= "2024-03-02 08:30" ORDER BY updated ASC, key ASC'
    )
    assert polling_jql("project = X", None, "UTC") == "(project = X) ORDER BY updated ASC, key ASC"


def test_text_to_adf() -> None:
    doc = text_to_adf("a\nb\n\nc")
    assert doc["content"][0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "hardBreak"},
        {"type": "text", "text": "b"},
    ]
    assert len(doc["content"]) == 2
