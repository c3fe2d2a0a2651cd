"""The dashboard's pages as the browser tests visit them (fixed paths: bookmarks rely on them)."""

from __future__ import annotations

from urllib.parse import quote

DEMO_KEY = "acme/web#9"
DEMO_CAPABILITY = "self-service-portal"


def explain(key: str) -> str:
    return "/explain?key=" + quote(key, safe="")


PAGES = {
    "strategy-map": "/",
    "capability": f"/capabilities/{DEMO_CAPABILITY}",
    "review": "/review",
    "explain": explain(DEMO_KEY),
    "report": "/report",
    "map": "/map",
    "status": "/status",
}
