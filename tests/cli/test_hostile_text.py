"""Ticket text never acts on the terminal: every printing command, with titles, labels and
capability fields full of Rich markup, ANSI/OSC escapes, CR, NUL and bidi marks, with colour
off (NO_COLOR) and forced on (FORCE_COLOR), against the sandbox and the real store."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.untrusted import safe, visible
from tests.cli.helpers import BMMSYNC, run_cli, write_sandbox_config

HOSTILE_TITLES = [
    "Fix [/] parser",
    "[bold]x",
    "\x1b[31mred\x1b[0m title",
    "over\rwritten",
    "nul\x00byte",
    "\u202eevil\u202c mark",
    "\x1b]0;owned\x07 tab title",
    "clear \x1b[2J screen",
]
HOSTILE_LABEL = "cap:[/]bad\x1b[2J"
HOSTILE_FIELD = "[bold]cap\r\u2066"

# What the terminal would act on. Rich's own colour (SGR, `ESC [ ... m`) is stripped first
# when colour is on; anything else left is an injection.
SGR = re.compile(r"\x1b\[[0-9;]*m")
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def hostile(tmp_path: Path, sandbox: SandboxServer, db_url: str) -> Path:
    control = SandboxControl(sandbox.url)
    try:
        for title in HOSTILE_TITLES:
            control.github_create(repo="acme/web", title=title)
            control.jira_create(project="PLAT", summary=title)
        control.github_create(repo="acme/web", title="labelled [red]", labels=[HOSTILE_LABEL])
        control.jira_create(project="PLAT", summary="field [u]", capability=HOSTILE_FIELD)
    finally:
        control.close()
    # A small budget leaves writes for `plan` to list after the run.
    config = write_sandbox_config(tmp_path, sandbox, db_url, budget=10)
    for step in (("model", "sync"), ("run", "--once")):
        result = run_cli("--config", str(config), *step)
        assert result.returncode == 0, result.stderr + result.stdout
    return config


def _keys(config: Path) -> tuple[str, str]:
    """The stored keys of the GitHub and Jira tickets with a markup title."""
    records = json.loads(run_cli("--config", str(config), "review", "--format", "json").stdout)
    by_title = {(r["source"], r["title"]): r["key"] for r in records}
    return by_title[("web", "Fix [/] parser")], by_title[("platform", "Fix [/] parser")]


def _assert_inert(out: str, colour: bool) -> str:
    if colour:
        assert SGR.search(out), "colour was forced on but no SGR sequence came out"
    plain = SGR.sub("", out)
    assert not ACTIVE.search(plain), f"active character in output: {ACTIVE.search(plain)!r}"
    assert "\x1b" not in plain
    return plain


def test_hostile_text_is_inert_on_terminals_and_exact_in_data(hostile: Path) -> None:
    """One store for both colour modes and the data formats: the setup is the slow part."""
    for colour in (False, True):
        _check_commands(hostile, colour)
    _check_data_formats(hostile)


def _check_commands(hostile: Path, colour: bool) -> None:
    env: dict[str, str | None] = (
        {"FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm-256color"} if colour else {}
    )
    gh_key, jira_key = _keys(hostile)
    commands: dict[str, tuple[list[str], set[int]]] = {
        "review": (["review"], {0}),
        "check": (["check", "--limit", "0"], {1}),
        "explain-gh": (["explain", gh_key], {1}),
        "explain-jira": (["explain", jira_key], {1}),
        "status": (["status"], {0}),
        "plan": (["plan"], {0}),
        "audit": (["audit"], {0}),
        "report": (["report", "--limit", "0"], {0}),
    }
    shown: dict[str, str] = {}
    for name, (args, codes) in commands.items():
        result = run_cli("--config", str(hostile), *args, env=env)
        assert result.returncode in codes, (name, colour, result.returncode, result.stderr)
        assert "internal error" not in result.stderr and "Markup" not in result.stderr, name
        shown[name] = _assert_inert(result.stdout, colour)

    review = shown["review"]
    assert "Fix [/] parser" in review and "[bold]x" in review
    assert "\\x1b[31mred\\x1b[0m title" in review
    assert "over\\rwritten" in review and "\\u202eevil\\u202c mark" in review
    assert "\\x1b]0;owned\\x07 tab title" in review and "clear \\x1b[2J screen" in review
    assert "nul\ufffdbyte" in review, "a NUL is stored and shown as U+FFFD"
    check = shown["check"]
    assert visible(HOSTILE_LABEL) in check and visible(HOSTILE_FIELD) in check
    assert "Fix [/] parser" in shown["explain-gh"] and "Fix [/] parser" in shown["explain-jira"]
    assert re.search(r"acme/\w+#\d+|PLAT-\d+", shown["plan"]), shown["plan"]
    assert "add-label" in shown["audit"]


def _check_data_formats(hostile: Path) -> None:
    """JSON and CSV are data: the title round-trips (NUL as U+FFFD), and a bare CR stays
    inside its quoted CSV field instead of splitting the row."""
    records = json.loads(run_cli("--config", str(hostile), "review", "--format", "json").stdout)
    titles = {r["title"] for r in records}
    expected = {t.replace("\x00", "\ufffd") for t in HOSTILE_TITLES}
    assert expected <= titles
    # Bytes, not text mode: universal newlines would turn the CR into a LF on the way in.
    out = subprocess.run(
        [BMMSYNC, "--config", str(hostile), "review", "--format", "csv"],
        capture_output=True,
        check=True,
        env={**os.environ, "NO_COLOR": "1"},
    ).stdout.decode()
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert len(rows) == len(records)
    assert [r["title"] for r in rows] == [r["title"] for r in records]
    markdown = run_cli("--config", str(hostile), "review", "--format", "markdown").stdout
    _assert_inert(markdown, colour=False)


def test_visible_escapes_every_active_character() -> None:
    assert visible("a\x1b[31mb\rc\x00d\u202ee\x9bf\tg\nh") == (
        "a\\x1b[31mb\\rc\\x00d\\u202ee\\x9bf\\tg\\nh"
    )
    assert visible("Fix [/] parser ✓ café 中文") == "Fix [/] parser ✓ café 中文"
    assert visible(None) == ""


@pytest.mark.parametrize("colour", [False, True])
def test_safe_text_is_never_markup_and_shows_controls(colour: bool) -> None:
    """What every table cell and message holding tracker text goes through."""
    console = Console(record=True, width=200, force_terminal=colour, color_system="standard")
    console.print(safe("Fix [/] parser [bold]x[link=http://evil]y[/link] \x1b[31mred"))
    console.print(safe("one\n[i]two\x07", lines=True))
    assert console.export_text() == (
        "Fix [/] parser [bold]x[link=http://evil]y[/link] \\x1b[31mred\none\n[i]two\\x07\n"
    )
