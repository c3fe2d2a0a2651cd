"""Query parameters, read strictly: a value of the wrong type is a 400 that names it.

Each page declares the parameters it takes; an unknown parameter is refused too, so a typo
in a bookmark (`?resaon=`) says so instead of silently showing everything.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date

MAX_TEXT = 200


class BadParameter(ValueError):
    """A query parameter the page cannot use; shown as a 400 naming it and what was expected."""

    def __init__(self, name: str, expected: str, got: str) -> None:
        shown = got if len(got) <= 60 else got[:57] + "..."
        super().__init__(f"query parameter {name!r}: expected {expected} (got {shown!r})")
        self.name = name
        self.expected = expected


class Query:
    """The query string of one request, with the names the page accepts."""

    def __init__(self, values: Mapping[str, str], accepted: Collection[str]) -> None:
        for name in values:
            if name not in accepted:
                raise BadParameter(
                    name, "one of " + ", ".join(sorted(accepted)) if accepted else "none", name
                )
        self.values = values

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise BadParameter(name, "a value", "")
            return None
        if len(value) > MAX_TEXT:
            raise BadParameter(name, f"at most {MAX_TEXT} characters", value)
        return value

    def choice(self, name: str, allowed: Collection[str]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            raise BadParameter(name, "one of " + ", ".join(sorted(allowed)), value)
        return value

    def positive_int(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if not re.fullmatch(r"\d{1,9}", value) or int(value) < 1:
            raise BadParameter(name, "a whole number of at least 1", value)
        return int(value)

    def day(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise BadParameter(name, "a date as YYYY-MM-DD", value)
