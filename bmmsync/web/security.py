"""Security headers and access control, each in one place, applied to every response.

The Content-Security-Policy is declared once as data (after warehouse's `csp.py`): nothing
inline, no third-party origin, no framing. Access follows `web.auth`; /livez and /readyz are
always open, /metrics is open when `web.metrics_open`, and routes mounted by other features
(webhooks) bring their own authentication.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
from collections.abc import Collection

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bmmsync.config.web import WebConfig

CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "connect-src": ("'self'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}

HEADERS: dict[str, str] = {
    "content-security-policy": "; ".join(f"{k} {' '.join(v)}" for k, v in CSP.items()),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
}

ALWAYS_OPEN = ("/livez", "/readyz")


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.raw if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class Access:
    """ASGI middleware: who may read. Answers 401 (basic, token) or 403 (proxy) itself."""

    def __init__(self, app: ASGIApp, web: WebConfig, open_prefixes: Collection[str] = ()) -> None:
        self.app = app
        self.web = web
        self.open = tuple(ALWAYS_OPEN) + tuple(open_prefixes)
        if web.metrics_open:
            self.open += ("/metrics",)
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in web.trusted_proxies]
        self.hasher = PasswordHasher()
        self._verified: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.web.auth == "none" or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, challenge, text = refusal
        body = text.encode()
        response_headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        if challenge:
            response_headers.append((b"www-authenticate", challenge.encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    def _is_open(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.open)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        auth = headers.get("authorization", "")
        if self.web.auth == "token":
            token = self.web.token.get_secret_value() if self.web.token else ""
            given = auth[7:] if auth[:7].lower() == "bearer " else ""
            if given and hmac.compare_digest(given.encode(), token.encode()):
                return None
            return 401, 'Bearer realm="bmmsync"', "a bearer token is required\n"
        if self.web.auth == "basic":
            if self._basic_ok(auth):
                return None
            return 401, 'Basic realm="bmmsync", charset="UTF-8"', "sign in to see the dashboard\n"
        client = (scope.get("client") or ("", 0))[0]
        try:
            trusted = any(ipaddress.ip_address(client) in net for net in self.proxies)
        except ValueError:
            trusted = False
        if trusted and headers.get(self.web.proxy_user_header.lower()):
            return None
        return 403, "", "requests must come through the trusted proxy\n"

    def _basic_ok(self, auth: str) -> bool:
        if auth[:6].lower() != "basic ":
            return False
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        hashed = self.web.users.get(user)
        if hashed is None:
            return False
        # argon2 is slow on purpose; remember a verified pair (by digest, never in clear).
        digest = hashlib.sha256(f"{user}\0{password}\0{hashed}".encode()).digest()
        if digest in self._verified:
            return True
        try:
            self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False
        self._verified.add(digest)
        return True
