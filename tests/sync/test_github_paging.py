"""GitHub's `page=N` counts from the top of a listing sorted by `updated`: an issue edited
while bmmsync pages moves to the end, and the next page starts one issue later. The real
clients against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

from bmmsync.config.settings import Config
from bmmsync.sandbox.pytest_plugin import SandboxControl
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from bmmsync.sync import SourceSummary
from tests.sync.helpers import make_config, run, sandbox_github_keys, stored


class EditWhilePaging:
    """Progress hook: after acme/web's first page (`first`-th page of the run), and after
    every page from there on with `every`, a human edits the oldest issue of acme/web."""

    def __init__(self, control: SandboxControl, server: SandboxServer, first: int, every: bool):
        self.control, self.server, self.first, self.every, self.pages = (
            control,
            server,
            first,
            every,
            0,
        )
        self.edits = 0

    def started(self, source: str) -> None:
        pass

    def advanced(self, source: str, fetched: int) -> None:
        self.pages += 1
        if self.pages == self.first or (self.every and self.pages > self.first):
            oldest = min(
                self.server.state.repo("acme/web").issues.values(), key=lambda i: i.updated
            )
            self.control.clock(advance=60)
            self.control.github_change(
                "acme/web", oldest.number, title=f"edited while paging {self.edits}"
            )
            self.edits += 1

    def finished(self, summary: SourceSummary) -> None:
        pass


def _synced_busy_repo(sandbox: SandboxServer, control: SandboxControl, store: Store) -> Config:
    """40 more issues in acme/web, a second apart (5 pages of 10 with the demo's), synced
    once; the config pages by 10."""
    control.clock(advance=3600)
    for i in range(40):
        control.clock(advance=1)
        control.github_create(repo="acme/web", title=f"issue {i}")
    config = make_config(sandbox, page_size=10)
    assert run(config, store).ok
    return config


def test_an_edit_while_paging_skips_no_issue_and_a_full_sync_marks_none_gone(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    config = _synced_busy_repo(sandbox, sandbox_control, store)
    # acme/mobile is listed first (2 pages): the edit comes after acme/web's first page
    hook = EditWhilePaging(sandbox_control, sandbox, first=3, every=False)

    report = run(config, store, full=True, progress=hook)

    assert report.ok and hook.edits == 1
    assert set(stored(store, "web")) == sandbox_github_keys(sandbox)
    web = {s.name: s for s in report.sources}["web"]
    assert web.gone == 0 and web.changed == 1
    assert any(t.title == "edited while paging 0" for t in stored(store, "web").values())


def test_issues_that_keep_moving_fail_the_listing_and_mark_nothing_gone(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    config = _synced_busy_repo(sandbox, sandbox_control, store)
    before = set(stored(store, "web"))

    report = run(
        config, store, full=True, progress=EditWhilePaging(sandbox_control, sandbox, 3, True)
    )

    web = {s.name: s for s in report.sources}["web"]
    assert web.error and "kept moving while paging" in web.error
    assert web.gone == 0 and set(stored(store, "web")) == before


def test_a_listing_longer_than_a_page_is_not_cached_so_a_later_change_is_seen(
    sandbox: SandboxServer, sandbox_control: SandboxControl, store: Store
) -> None:
    """30 issues edited in one second (a bulk edit) keep the poll's `since` window three
    pages long; a 304 on its first page would hide what lands on the last one."""
    sandbox_control.clock(advance=3600)
    for i in range(30):
        sandbox_control.github_create(repo="acme/web", title=f"bulk {i}")
    config = make_config(sandbox, page_size=10)
    for _ in range(3):
        assert run(config, store).ok
    sandbox_control.clock(advance=10)
    late = sandbox_control.github_create(repo="acme/web", title="after the bulk edit")

    report = run(config, store)

    assert report.ok and late["key"] in stored(store, "web")
    web = {s.name: s for s in report.sources}["web"]
    assert web.not_modified == 1  # acme/mobile's one-page listing is still answered 304
