"""The one place that decides what an HTTP failure means, for both connectors.

retriable: 5xx, 408, timeouts, connection errors, 429 and secondary rate limits: retried with
    jittered exponential back-off (capped), honouring `Retry-After`.
rate limited: the primary budget is spent (403/429 with `X-RateLimit-Remaining: 0`): wait
    until `X-RateLimit-Reset`, then retry; never fails the run by itself.
fatal: 401/403 (the message names the source and its token setting, never the token), any
    other 4xx, and answers that are not the JSON they should be.
tolerated: statuses the caller names as "already done" (404 removing an absent label...).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, TypeVar

import requests
from github import GithubException
from jira.exceptions import JIRAError

from bmmsync.config.secrets import mask
from bmmsync.errors import SourceError
from connectors.base import Sleep

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 5
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
SECONDARY_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_WAITS = 3


class Kind(StrEnum):
    RETRIABLE = "retriable"
    RATE_LIMITED = "rate-limited"
    FATAL = "fatal"
    TOLERATED = "tolerated"


@dataclass(frozen=True, slots=True)
class HttpFailure:
    """A failed call reduced to what classification needs, whichever library raised it."""

    status: int | None
    headers: Mapping[str, str]
    message: str
    malformed: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def failure_of(exc: BaseException) -> HttpFailure | None:
    """Normalise a PyGithub, jira or requests exception; None if `exc` is not an HTTP failure."""
    if isinstance(exc, GithubException):
        headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
        data = exc.data
        message = data.get("message") if isinstance(data, dict) else None
        return HttpFailure(exc.status, headers, str(message or exc.message or data or ""))
    if isinstance(exc, JIRAError):
        resp = exc.response
        headers = {k.lower(): v for k, v in (resp.headers if resp is not None else {}).items()}
        return HttpFailure(exc.status_code, headers, str(exc.text or ""))
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        resp = exc.response
        headers = {k.lower(): v for k, v in resp.headers.items()}
        return HttpFailure(resp.status_code, headers, resp.text[:500])
    if isinstance(exc, json.JSONDecodeError):  # before RequestException: requests' subclasses it
        return HttpFailure(None, {}, f"malformed JSON answer ({exc.msg})", malformed=True)
    if isinstance(exc, requests.RequestException | ConnectionError | TimeoutError):
        return HttpFailure(None, {}, f"{type(exc).__name__}: {exc}")
    return None


def classify(failure: HttpFailure, tolerate: Collection[int] = ()) -> Kind:
    status = failure.status
    if failure.malformed:
        return Kind.FATAL
    if status is None:
        return Kind.RETRIABLE
    if status in tolerate:
        return Kind.TOLERATED
    if status in (403, 429) and failure.header("x-ratelimit-remaining") == "0":
        return Kind.RATE_LIMITED
    if status == 429 or status == 408 or status >= 500:
        return Kind.RETRIABLE
    if status == 403 and (
        failure.header("retry-after") is not None or "secondary rate limit" in failure.message
    ):
        return Kind.RETRIABLE
    return Kind.FATAL


def retry_after(failure: HttpFailure) -> float | None:
    """Seconds from a `Retry-After` header (seconds or an HTTP date), if any."""
    value = failure.header("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Jittered exponential back-off: up to base*2^attempt, capped, never less than half."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)
    return float(ceiling * (0.5 + rng() / 2))


def seconds_until_reset(headers: Mapping[str, str]) -> float:
    """Seconds until `X-RateLimit-Reset` (epoch seconds), plus one for clock skew."""
    reset = headers.get("x-ratelimit-reset")
    try:
        return max(0.0, float(reset) - time.time() + 1) if reset else BACKOFF_CAP
    except ValueError:
        return BACKOFF_CAP


class Retrier:
    """Runs one tracker call with the policy above; raises `SourceError` when it gives up.

    `auth_hint` names the setting holding the source's credentials, for the fatal 401/403
    message (e.g. "`token` of source 'web' (or the environment variable it references)").
    """

    def __init__(
        self,
        source: str,
        auth_hint: str,
        sleep: Sleep,
        *,
        attempts: int = MAX_ATTEMPTS,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.auth_hint = auth_hint
        self.sleep = sleep
        self.attempts = attempts
        self.rng = rng

    def call(self, fn: Callable[[], T], what: str) -> T:
        """`fn()`, retried as classified; SourceError on fatal or when retries run out."""
        done, value = self._run(fn, what, ())
        assert done
        return value  # type: ignore[return-value]

    def call_tolerating(self, fn: Callable[[], Any], what: str, statuses: Collection[int]) -> bool:
        """Like `call`; False (nothing raised) when the tracker answers one of `statuses`."""
        done, _ = self._run(fn, what, statuses)
        return done

    def _run(
        self, fn: Callable[[], T], what: str, tolerate: Collection[int]
    ) -> tuple[bool, T | None]:
        attempt = 0
        waits = 0
        while True:
            try:
                return True, fn()
            except SourceError:
                raise
            except Exception as exc:
                failure = failure_of(exc)
                if failure is None:
                    raise
                kind = classify(failure, tolerate)
                if kind is Kind.TOLERATED:
                    return False, None
                if kind is Kind.FATAL:
                    raise self.fatal(failure, what) from None
                if kind is Kind.RATE_LIMITED and waits < MAX_RATE_LIMIT_WAITS:
                    waits += 1
                    delay = seconds_until_reset(failure.headers)
                    log.warning(
                        "rate limit exhausted; waiting for the reset",
                        extra={"source": self.source, "seconds": round(delay)},
                    )
                    self.sleep(delay)
                    continue
                attempt += 1
                if attempt >= self.attempts:
                    raise SourceError(
                        self.source,
                        f"{what}: gave up after {attempt} attempts: {self._describe(failure)}",
                    ) from None
                asked = retry_after(failure)
                secondary = failure.status == 403 or "secondary" in failure.message
                if asked is not None:
                    delay = asked
                else:
                    delay = SECONDARY_LIMIT_WAIT if secondary else backoff(attempt, self.rng)
                log.info(
                    "retrying",
                    extra={
                        "source": self.source,
                        "what": what,
                        "attempt": attempt,
                        "seconds": round(delay, 2),
                        "status": failure.status,
                    },
                )
                self.sleep(delay)

    def fatal(self, failure: HttpFailure, what: str) -> SourceError:
        if failure.status in (401, 403):
            return SourceError(
                self.source,
                f"{what}: access denied ({self._describe(failure)}); check the {self.auth_hint}",
            )
        return SourceError(self.source, f"{what}: {self._describe(failure)}")

    @staticmethod
    def _describe(failure: HttpFailure) -> str:
        text = mask(" ".join(failure.message.split()))[:300]
        if failure.status is None:
            return text
        return f"HTTP {failure.status}: {text}" if text else f"HTTP {failure.status}"
