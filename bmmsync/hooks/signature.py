"""HMAC-SHA256 signatures over the raw request body, as GitHub and Jira send them.

Checked before anything parses the body, and compared in constant time. A missing secret
verifies nothing: an endpoint without one accepts no delivery.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on `body` (`sha256=<hex>`); the sandbox signs with it."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str | None, body: bytes, header: str | None) -> bool:
    """True when `header` is `sha256=<hex>` of `body` under `secret`."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
