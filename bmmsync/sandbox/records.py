"""The sandbox's records: users, repositories, issues, comments, Jira issues.

Plain mutable dataclasses; `state.SandboxState` owns them and is the only code that changes
them, so it can move `updated` timestamps and drop cached JSON in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class GhUser:
    id: int
    login: str
    type: str = "User"
    name: str | None = None


@dataclass(slots=True)
class GhLabel:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass(slots=True)
class GhIssueType:
    id: int
    name: str
    description: str | None
    color: str | None
    created: int = 0


@dataclass(slots=True)
class GhComment:
    id: int
    repo: str
    number: int
    body: str
    user: str
    created: int
    updated: int


@dataclass(slots=True, eq=False)
class GhIssue:
    """An issue or pull request. `parent` is `owner/repo#N` and may name a missing issue."""

    id: int
    repo: str
    number: int
    title: str
    user: str
    created: int
    updated: int
    body: str | None = None
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    assignees: list[str] = field(default_factory=list)
    closed_at: int | None = None
    closed_by: str | None = None
    is_pr: bool = False
    type_id: int | None = None
    parent: str | None = None
    comments: int = 0
    # Serialized JSON for one base URL; dropped on every change (never persisted).
    cache: tuple[str, bytes] | None = None

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(slots=True)
class GhRepo:
    id: int
    owner: str
    name: str
    created: int
    labels: dict[str, GhLabel] = field(default_factory=dict)  # lower-cased name -> label
    issues: dict[int, GhIssue] = field(default_factory=dict)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(slots=True)
class JiraUser:
    account_id: str
    name: str
    email: str
    display_name: str


@dataclass(slots=True)
class JiraProject:
    id: int
    key: str
    name: str
    next_number: int = 1


@dataclass(slots=True)
class JiraComment:
    """`text` is the wiki/plain body; `adf` the ADF document when one was posted (v3)."""

    id: int
    issue_id: int
    text: str
    author: str
    created: int
    updated: int
    update_author: str
    adf: dict[str, Any] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class JiraIssue:
    """A Jira issue. `parent` is a key (sub-task parent, or epic on Cloud); it may be deleted.

    `prev` is what the Cloud search index still sees while `changed_at` is within the
    configured search lag (None: the issue is too new to be found).
    """

    id: int
    key: str
    project: str
    summary: str
    issuetype: str
    reporter: str
    created: int
    updated: int
    status: str = "To Do"
    description: str | None = None
    labels: list[str] = field(default_factory=list)
    parent: str | None = None
    epic_link: str | None = None
    capability: Any = None
    story_points: float | None = None
    assignee: str | None = None
    resolved: int | None = None
    comment_ids: list[int] = field(default_factory=list)
    prev: JiraIssue | None = None
    changed_at: float = 0.0
