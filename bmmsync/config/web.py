"""The `web:` section: where the dashboard listens and who may read it.

Kept apart from `settings.py` because only the dashboard reads it. The dashboard is
read-only, but it shows ticket titles and the strategy map, so `auth: none` is accepted only
on a loopback address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from bmmsync.config.secrets import Secret

DEFAULT_LISTEN = "127.0.0.1:8080"


def split_listen(value: str) -> tuple[str, int]:
    """`"127.0.0.1:8080"` -> `("127.0.0.1", 8080)`; `"[::1]:8080"` -> `("::1", 8080)`."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses; a name that is not an address is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(value: Any) -> Any:
    shape = r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}"
    if isinstance(value, str) and re.fullmatch(shape, value) and 0 < split_listen(value)[1] < 65536:
        return value
    raise PydanticCustomError(
        "listen",
        "expected HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080 (got {got})",
        {"got": repr(value)},
    )


def _network(value: Any) -> Any:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        raise PydanticCustomError(
            "network",
            "expected an IP address or network, e.g. 10.0.0.5 or 10.0.0.0/24 (got {got})",
            {"got": repr(value)},
        ) from None
    return value


def _argon2_hashes(value: Any) -> Any:
    for user, hashed in value.items() if isinstance(value, dict) else ():
        if not (isinstance(hashed, str) and hashed.startswith("$argon2")):
            raise PydanticCustomError(
                "password_hash",
                "expected an argon2 hash ($argon2id$...) for user {user}, made with `python -c"
                " 'from argon2 import PasswordHasher; print(PasswordHasher().hash(input()))'`",
                {"user": repr(user)},
            )
    return value


Listen = Annotated[str, BeforeValidator(_listen)]
Network = Annotated[str, BeforeValidator(_network)]


class WebConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True, description="`bmmsync run` also serves the dashboard, health and metrics."
    )
    listen: Listen = Field(
        default=DEFAULT_LISTEN, description="HOST:PORT the dashboard binds (`bmmsync run`)."
    )
    auth: Literal["none", "basic", "token", "proxy"] = Field(
        default="none",
        description="Who may read the dashboard: none (loopback `listen` only), basic (`users`),"
        " token (a bearer `token`) or proxy (`proxy_user_header` from `trusted_proxies`)."
        " /livez and /readyz are always open.",
    )
    users: Annotated[dict[str, str], BeforeValidator(_argon2_hashes)] = Field(
        default={}, description="auth basic: user name -> argon2 password hash."
    )
    token: Secret | None = Field(
        default=None, description="auth token: the bearer token, e.g. ${BMMSYNC_WEB_TOKEN}."
    )
    trusted_proxies: list[Network] = Field(
        default=[], description="auth proxy: addresses or networks of the proxies to trust."
    )
    proxy_user_header: str = Field(
        default="X-Forwarded-User",
        description="auth proxy: the header carrying the authenticated user name.",
    )
    metrics_open: bool = Field(
        default=True, description="/metrics is open (true) or behind `auth` like the pages."
    )
    page_size: int = Field(default=100, ge=10, le=1000, description="Rows per page of long lists.")

    @model_validator(mode="after")
    def _auth_complete(self) -> WebConfig:
        host = split_listen(self.listen)[0]
        if self.auth == "none" and self.enabled and not is_loopback(host):
            raise PydanticCustomError(
                "web_auth",
                "expected auth basic, token or proxy when listen is not a loopback address"
                " (got auth none with listen {listen})",
                {"listen": self.listen},
            )
        if self.auth == "basic" and not self.users:
            raise PydanticCustomError("web_auth", "expected `users` with auth basic")
        if self.auth == "token" and (self.token is None or not self.token.get_secret_value()):
            raise PydanticCustomError("web_auth", "expected a `token` with auth token")
        if self.auth == "proxy" and not self.trusted_proxies:
            raise PydanticCustomError("web_auth", "expected `trusted_proxies` with auth proxy")
        return self
