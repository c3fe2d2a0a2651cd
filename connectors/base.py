"""What every connector offers: the read path (pages of tickets with their cursor) and the
write primitives the flagging bot is built on.

Connectors know the domain types and nothing of the store: a page carries the opaque cursor
that the sync service saves in the same transaction as the page's tickets, so a crash never
skips or loses tickets. The cursor's meaning belongs to the connector alone.

Comment bodies: `comment_format` says which markup the bot renders. For "markdown" and
"jira-wiki" the body is text. For "adf" (Jira Cloud) the bot may give an ADF document (a
dict) or plain text, which the connector wraps into ADF paragraphs. The hidden marker is
added by the connector, never by the bot, so it is the same everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from bmmsync.domain import Ticket
from bmmsync.errors import SourceError

CommentFormat = Literal["markdown", "jira-wiki", "adf"]
CommentBody = str | dict[str, Any]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a listing resumes: `value` and `etag` are the connector's own encoding."""

    value: str | None = None
    etag: str | None = None


LOST = Cursor(None, "lost")
"""The cursor saved for a stream whose target the tracker no longer lets us reach: its
tickets are kept (not marked gone) and the loss is reported at every run until it is back."""


@dataclass(frozen=True, slots=True)
class Listing:
    """What a listing stream (an organisation's repositories) names now.

    `poll` are the streams to read this run; `lost` maps each known stream that the tracker
    no longer shows to the project it covered; `cursor` is the listing's own cursor, to save
    once every stream in `poll` has been read (so a crash re-lists instead of trusting a 304).
    """

    poll: tuple[str, ...]
    lost: dict[str, str]
    cursor: Cursor
    not_modified: bool = False


class StreamLost(SourceError):
    """A listed stream's target became unreachable (a repository the App lost access to)."""

    def __init__(self, source: str, message: str, *, project: str) -> None:
        self.project = project
        super().__init__(source, message)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, and the cursor to save once its tickets are stored.

    `not_modified` is True when the tracker answered 304: no tickets, cursor unchanged.
    """

    stream: str
    tickets: list[Ticket]
    cursor: Cursor
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class CommentRef:
    id: str


@dataclass
class Stats:
    """Request counters a connector keeps for the sync summary."""

    requests: int = 0
    not_modified: int = 0
    rate_limit_left: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectorOptions:
    """Run-wide settings a connector needs from the config, besides its own source section."""

    overlap_seconds: float = 300.0
    page_size: int = 100
    write_interval: float = 1.0
    capability_field: str | None = None
    timeout: float = 30.0
    sleep: Sleep = field(default=time.sleep)


class CommentTooLong(SourceError):
    """A comment body (with its marker) exceeds what the tracker accepts."""

    def __init__(self, source: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(source, f"comment of {size} characters exceeds the limit of {limit}")


MARKER_PREFIX = "bmmsync:"


def marker_tag(marker: str) -> str:
    """The hidden HTML comment that identifies our comment (GitHub; Jira uses a property)."""
    return f"<!-- {MARKER_PREFIX}{marker} -->"


class WriteThrottle:
    """Writes one at a time, at least `interval` seconds apart (trackers' secondary limits)."""

    def __init__(self, interval: float, sleep: Sleep) -> None:
        self._interval = interval
        self._sleep = sleep
        self._last = 0.0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()
        wait = self._last + self._interval - time.monotonic()
        if wait > 0:
            self._sleep(wait)

    def __exit__(self, *exc: object) -> None:
        self._last = time.monotonic()
        self._lock.release()


class CommentHints:
    """Tickets whose fresh read (`fetch`) showed that no comment of ours can be on them: the
    bot's first comment there needs no listing to look for its marker first.

    A hint is used once (`take`), dropped when a comment is created, and forgotten by whoever
    cannot be sure no other process commented since (the webhook worker, per batch)."""

    def __init__(self) -> None:
        self._none: set[str] = set()
        self._lock = threading.Lock()

    def saw(self, key: str, none_ours: bool) -> None:
        with self._lock:
            if none_ours:
                self._none.add(key)
            else:
                self._none.discard(key)

    def take(self, key: str) -> bool:
        """True once if `key` was seen with no comment of ours."""
        with self._lock:
            if key in self._none:
                self._none.discard(key)
                return True
            return False

    def drop(self, key: str) -> None:
        self.saw(key, False)

    def forget(self) -> None:
        with self._lock:
            self._none.clear()


@runtime_checkable
class HintsComments(Protocol):
    """A connector whose `fetch` fills `comment_hints` (GitHub's comment count, Jira's
    `comment` field)."""

    comment_hints: CommentHints


@runtime_checkable
class ListsStreams(Protocol):
    """A connector some of whose streams list other streams (GitHub orgs list repositories)."""

    def listing(self, stream: str, cursor: Cursor, known: Mapping[str, Cursor]) -> Listing | None:
        """What listing `stream` holds now, judged against this source's `known` cursors;
        None when `stream` is an ordinary stream, read with `read`."""
        ...


@runtime_checkable
class ChecksScope(Protocol):
    """A connector whose source is a query narrower than what its webhooks report (a Jira
    JQL, while a Jira webhook may name any issue of the site)."""

    def watches(self, key: str) -> bool:
        """Whether the source's query covers ticket `key`."""
        ...


@runtime_checkable
class Connector(Protocol):
    """A tracker source. Reads are paged; writes are idempotent and throttled.

    Every method may raise `SourceError` (fatal for this source) after retrying what is
    worth retrying; tolerated failures (removing an absent label...) return normally.
    """

    name: str
    kind: str
    stats: Stats

    @property
    def comment_format(self) -> CommentFormat:
        """The markup `create_comment` and `update_comment` expect."""
        ...

    def streams(self) -> list[str]:
        """The listings this source polls (one per org, repo or JQL); cursors are per stream."""
        ...

    def read(self, stream: str, cursor: Cursor, *, full: bool = False) -> Iterator[Page]:
        """Tickets of `stream` changed since `cursor` (everything when `full`), page by page,
        oldest first, de-duplicated on (key, updated)."""
        ...

    def fetch(self, key: str) -> Ticket | None:
        """One ticket by key; None when the tracker does not have it (any more)."""
        ...

    def ensure_label(self, project: str, name: str, color: str, description: str) -> None: ...

    def add_label(self, key: str, label: str) -> None: ...

    def remove_label(self, key: str, label: str) -> None: ...

    def create_comment(self, key: str, body: CommentBody, marker: str) -> CommentRef: ...

    def find_comment(self, key: str, marker: str) -> CommentRef | None: ...

    def update_comment(self, key: str, comment_id: str, body: CommentBody, marker: str) -> None: ...

    def delete_comment(self, key: str, comment_id: str) -> None: ...

    def close(self, key: str, reason: str) -> None:
        """Close the ticket (escalation); `reason` is the tracker's close reason / resolution."""
        ...

    def transition(self, key: str, state_name: str) -> None:
        """Move the ticket to the state (GitHub: open|closed) or Jira status named."""
        ...
