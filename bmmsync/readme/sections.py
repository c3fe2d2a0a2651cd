"""README sections generated from code (the config reference, the reason codes), between
`<!-- NAME:start -->` and `<!-- NAME:end -->` markers, so a test can keep them in step."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GeneratedSection:
    name: str
    render: Callable[[], str]

    @property
    def start(self) -> str:
        return f"<!-- {self.name}:start -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"

    def current(self, text: str) -> str | None:
        """The generated part of `text` (between the markers), or None if it has none."""
        if self.start not in text or self.end not in text:
            return None
        return text.split(self.start, 1)[1].split(self.end, 1)[0].strip("\n") + "\n"

    def updated(self, text: str) -> str:
        """`text` with the part between the markers rendered afresh."""
        before, rest = text.split(self.start, 1)
        after = rest.split(self.end, 1)[1]
        return f"{before}{self.start}\n{self.render()}{self.end}{after}"

    def write(self, path: Path) -> int:
        """Update the section in the file at `path`; an exit code (1: no markers there)."""
        text = path.read_text(encoding="utf-8")
        if self.current(text) is None:
            print(f"{path}: no {self.start} ... {self.end} markers", file=sys.stderr)
            return 1
        path.write_text(self.updated(text), encoding="utf-8")
        return 0
