"""bmmsync's exception hierarchy: the CLI turns each into one clear line and an exit code."""

from __future__ import annotations


class BmmsyncError(Exception):
    """Base of every error bmmsync reports to a user. `exit_code` is what the CLI returns."""

    exit_code = 1


class ConfigError(BmmsyncError):
    """The configuration or the model file is invalid. Carries every problem, not the first."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class StoreError(BmmsyncError):
    """The database is unreachable, or its schema does not match this version of bmmsync."""

    exit_code = 2


class SourceError(BmmsyncError):
    """A tracker source failed (auth, network after retries, malformed answer)."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"source {source!r}: {message}")


class LeaseLost(BmmsyncError):
    """This process no longer holds the run lease (taken over, or not renewed in time): it
    must not write to a tracker again in this run."""


class InputError(BmmsyncError):
    """Values given on the command line or in an imported file are invalid. Carries every
    problem (each with its file and line when there is one); nothing was recorded."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
