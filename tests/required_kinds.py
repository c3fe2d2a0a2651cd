"""A pytest plugin: CI fails when a required kind of test skipped, or none of it ran.

A green run must not hide that the PostgreSQL store, the official OpenAPI specs or the
browser were never exercised. `BMMSYNC_REQUIRE=postgres,spec,browser` names the kinds CI
requires (`BMMSYNC_REQUIRE_POSTGRES=1` is kept as an alias of `postgres`):

- `postgres`: items parametrised with the `postgresql` store (`test_x[postgresql]`);
- `spec`: items marked `spec` (they need the OpenAPI subsets in `../shared/specs`);
- `browser`: items marked `browser` (they drive a real browser).

Each item's kinds are attached to its reports as user properties, so under xdist the
controller, which sees every worker's reports, decides. Every skipped required item is
listed with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field

import pytest

KINDS = ("postgres", "spec", "browser")
PROPERTY = "bmmsync_kind"


def required_kinds(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[str, ...]:
    """The kinds the environment requires, in `KINDS` order; unknown names are refused."""
    names = {n.strip() for n in environ.get("BMMSYNC_REQUIRE", "").split(",") if n.strip()}
    unknown = sorted(names - set(KINDS))
    if unknown:
        raise pytest.UsageError(
            f"BMMSYNC_REQUIRE: unknown kind(s) {', '.join(unknown)}; expected {', '.join(KINDS)}"
        )
    if environ.get("BMMSYNC_REQUIRE_POSTGRES") == "1":
        names.add("postgres")
    return tuple(k for k in KINDS if k in names)


def kinds_of(item: pytest.Item) -> Iterable[str]:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in callspec.id.split("-"):
        yield "postgres"
    for kind in ("spec", "browser"):
        if item.get_closest_marker(kind) is not None:
            yield kind


@dataclass
class Tally:
    """What the reports said about one required kind."""

    ran: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (nodeid, reason)


class RequiredKinds:
    def __init__(self, required: tuple[str, ...]) -> None:
        self.required = required
        self.tallies = {kind: Tally() for kind in required}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, None]:
        outcome = yield
        report = outcome.get_result()  # type: ignore[attr-defined]
        report.user_properties.extend((PROPERTY, kind) for kind in kinds_of(item))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, kind in report.user_properties:
            if name != PROPERTY or kind not in self.tallies:
                continue
            tally = self.tallies[kind]
            if report.skipped and not hasattr(report, "wasxfail"):
                tally.skipped.append((report.nodeid, _reason(report)))
            elif report.when == "call":
                tally.ran += 1

    def problems(self) -> list[str]:
        out = []
        for kind, tally in self.tallies.items():
            if tally.skipped:
                out.append(f"{len(tally.skipped)} required {kind} item(s) skipped")
            if tally.ran == 0:
                out.append(f"no required {kind} item ran")
        return out

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return  # an xdist worker: the controller receives every report and decides
        if self.problems() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if hasattr(terminalreporter.config, "workerinput"):
            return
        write = terminalreporter.write_line
        terminalreporter.section("required kinds (BMMSYNC_REQUIRE)")
        for kind, tally in self.tallies.items():
            write(f"{kind}: {tally.ran} ran, {len(tally.skipped)} skipped")
            for nodeid, reason in tally.skipped:
                write(f"  SKIPPED {nodeid}: {reason}")
        for problem in self.problems():
            write(f"ERROR: {problem}", red=True, bold=True)


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_configure(config: pytest.Config) -> None:
    required = required_kinds()
    if required:
        config.pluginmanager.register(RequiredKinds(required), "bmmsync-required-kinds")
