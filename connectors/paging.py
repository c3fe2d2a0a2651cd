"""The one pagination helper: follows page tokens (a next URL, a nextPageToken, a startAt)
and stops with an error when the tracker hands back a token it already gave, instead of
looping forever."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

from bmmsync.errors import SourceError

R = TypeVar("R")
Token = TypeVar("Token", bound=Hashable)


class RepeatedPageToken(SourceError):
    """The tracker returned a page token already followed: its paging is broken."""


def follow_pages(
    fetch: Callable[[Token | None], tuple[R, Token | None]], *, source: str, what: str
) -> Iterator[R]:
    """Yield `fetch(token)` results, starting with `token=None`, until `fetch` returns no
    next token. Raises `RepeatedPageToken` when a next token repeats an earlier one."""
    token: Token | None = None
    seen: set[Token] = set()
    while True:
        result, following = fetch(token)
        yield result
        if following is None:
            return
        if following in seen or following == token:
            raise RepeatedPageToken(
                source, f"{what}: the tracker repeated page token {following!r}; stopped paging"
            )
        seen.add(following)
        token = following
