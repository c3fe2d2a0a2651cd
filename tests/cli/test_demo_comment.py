"""The demo's "comment bmmsync posted" panel reads the sandbox over httpx. respx fakes what
the sandbox itself cannot: a refused connection, a cut-off body, a server error. The panel
is an illustration, so each leaves the demo going without it, and says why in the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
import pytest
import respx

from bmmsync.cli.demo_cmd import _posted_comment

URL = "http://sandbox.test"


@dataclass
class _Where:
    """Where the sandbox listens: all `_posted_comment` reads of the server."""

    url: str = URL


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("connection refused"),
        httpx.Response(200, content=b'{"github": {"acme/web": {"issues": [{"num'),
        httpx.Response(503, json={"error": "down"}),
    ],
    ids=["refused", "truncated", "503"],
)
def test_unreadable_sandbox_state_leaves_the_demo_going(
    answer: object, caplog: pytest.LogCaptureFixture
) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get(f"{URL}/_sandbox/state")
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        with caplog.at_level(logging.WARNING, "bmmsync.demo"):
            assert _posted_comment(_Where()) is None  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records] == ["cannot show the posted comment"]


def test_the_posted_comment_is_found() -> None:
    state = {
        "github": {
            "acme/web": {
                "issues": [
                    {"number": 3, "comment_list": [{"body": "hi"}]},
                    {"number": 4, "comment_list": [{"body": "<!-- bmmsync: x -->\nFix it"}]},
                ]
            }
        }
    }
    with respx.mock() as router:
        router.get(f"{URL}/_sandbox/state").mock(return_value=httpx.Response(200, json=state))
        assert _posted_comment(_Where()) == ("acme/web#4", "<!-- bmmsync: x -->\nFix it")  # type: ignore[arg-type]
