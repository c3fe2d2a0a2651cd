"""The README's table of reason codes, generated from `bmmsync.trace.reason_table()`.

The README embeds it between `<!-- reason-codes:start -->` and `<!-- reason-codes:end -->`;
a test regenerates it and fails when the two differ, so no code can go undocumented. Update
the README with:

    python -m bmmsync.readme.reason_reference --write README.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bmmsync.readme.sections import GeneratedSection
from bmmsync.trace.reasons import Reason, reason_table


def render_reason_codes() -> str:
    """Markdown table: code, what it is about (ticket or map), default severity, meaning."""
    lines = ["| Code | About | Severity | Meaning |", "| --- | --- | --- | --- |"]
    for code, severity, meaning in reason_table(include_map=True):
        about = "map" if Reason(code).is_map_reason else "ticket"
        cells = (f"`{code}`", about, severity, meaning)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str | None:
    return SECTION.current(text)


def with_reason_codes(text: str) -> str:
    return SECTION.updated(text)


SECTION = GeneratedSection("reason-codes", render_reason_codes)
START, END = SECTION.start, SECTION.end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bmmsync.readme.reason_reference",
        description="Print the reason-code table, or update a README section with it.",
    )
    parser.add_argument("--write", type=Path, help="README to update between the markers")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(render_reason_codes())
        return 0
    return SECTION.write(args.write)


if __name__ == "__main__":
    raise SystemExit(main())
