"""Tracker text shown on a terminal: every byte came from someone else, so nothing in it may
act on the terminal (ANSI/OSC sequences, CR overwrites, NUL, bidi reordering) or on Rich
(markup such as `[bold]` or `[/]`). One place does it, so no table or message can forget."""

from __future__ import annotations

import re

from rich.text import Text

# C0 and C1 controls, DEL, line/paragraph separators, and the bidi embeddings, overrides,
# isolates and marks that can make a line read differently from what it holds.
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object) -> str:
    """`value` as one line of plain text, every control or bidi character as a visible escape
    (`\\x1b`, `\\r`, `\\x00`, `\\u202e`). Safe for print() and log lines; not for Rich markup."""
    return _HIDDEN.sub(_escape, "" if value is None else str(value))


def safe(value: object, style: str = "", *, lines: bool = False) -> Text:
    """`value` as a Rich Text: never parsed as markup and never highlighted, controls visible
    (with `lines`, its line breaks are kept). Use it for every table cell and message that
    holds tracker text."""
    if lines:
        text = "\n".join(visible(line) for line in str(value or "").split("\n"))
        return Text(text, style=style)
    return Text(visible(value), style=style)
