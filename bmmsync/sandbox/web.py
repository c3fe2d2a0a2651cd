"""HTTP plumbing shared by the fake APIs: errors as exceptions, JSON bytes, request bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error answer: status, JSON body and headers, in the shape of the API that raises it."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes, as the real services send them."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status, headers, media_type=JSON_TYPE)


@dataclass(slots=True)
class Call:
    """What an endpoint needs from a request, read before the state lock is taken."""

    user: str
    base: str  # scheme://host[:port] + API prefix, for the URLs inside bodies
    url: str  # the full request URL, for Link headers
    path: dict[str, Any]
    query: QueryParams
    body: Any = None


async def read_json_body(request: Request) -> tuple[bool, Any]:
    """(ok, value): ok is False when a body is present but is not valid JSON."""
    raw = await request.body()
    if not raw.strip():
        return True, None
    try:
        return True, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False, None


def origin(request: Request) -> str:
    """scheme://host:port as the client addressed us (bodies carry absolute URLs)."""
    host = request.headers.get("host") or "127.0.0.1"
    return f"{request.url.scheme}://{host}"
