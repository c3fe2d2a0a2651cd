"""The README's table of reason codes, generated from `bmmsync.trace.reason_table()`.

The README embeds it between `<!-- reason-codes:start -->` and `<!-- reason-codes:end -->`;
a test regenerates it and fails when the two differ, so no code can go undocumented. Update
the README with:

    python -m bmmsync.reason_reference --write README.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmmsync.trace.reasons import Reason, reason_table

START = "<!-- reason-codes:start -->"
END = "<!-- reason-codes:end -->"


def render_reason_codes() -> str:
    """Markdown table: code, what it is about (ticket or map), default severity, meaning."""
    lines = ["| Code | About | Severity | Meaning |", "| --- | --- | --- | --- |"]
    for code, severity, meaning in reason_table(include_map=True):
        about = "map" if Reason(code).is_map_reason else "ticket"
        cells = (f"`{code}`", about, severity, meaning)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str | None:
    """The generated part of a README (between the markers), or None if it has no markers."""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def with_reason_codes(text: str) -> str:
    """`text` with the section between the markers replaced by a fresh table."""
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    return f"{before}{START}\n{render_reason_codes()}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bmmsync.reason_reference",
        description="Print the reason-code table, or update a README section with it.",
    )
    parser.add_argument("--write", type=Path, help="README to update between the markers")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(render_reason_codes())
        return 0
    text = args.write.read_text(encoding="utf-8")
    if readme_section(text) is None:
        print(f"{args.write}: no {START} ... {END} markers", file=sys.stderr)
        return 1
    args.write.write_text(with_reason_codes(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
