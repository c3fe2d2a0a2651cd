"""The in-memory store behind both fake trackers, and its persistence to a file.

Every change goes through a method here: it takes its time from the shared `Clock`, moves
`updated`, drops the record's cached JSON and bumps `version` (which invalidates cached list
pages). Handlers and tests may call in from different threads, hence the lock.
"""

from __future__ import annotations

import copy
import pickle
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bmmsync.sandbox.clock import Clock
from bmmsync.sandbox.config import SandboxConfig
from bmmsync.sandbox.records import (
    GhComment,
    GhIssue,
    GhIssueType,
    GhLabel,
    GhRepo,
    GhUser,
    JiraComment,
    JiraIssue,
    JiraProject,
    JiraUser,
)

if TYPE_CHECKING:
    from bmmsync.sandbox.webhooks import WebhookBook

# Fake, sandbox-only credentials (the contract other engineers rely on).
GITHUB_TOKENS = {"bot-token": "bmmsync-bot", "alice-token": "alice", "bob-token": "bob"}
# The one GitHub App the sandbox knows: its id, its installation, and the bot user that its
# installation tokens act as. The sandbox checks a JWT's claims, not its signature (any key).
GITHUB_APP_ID = 424242
GITHUB_APP_INSTALLATION = 4242
GITHUB_APP_BOT = "bmmsync-sandbox[bot]"
GITHUB_USERS = (
    GhUser(id=9000001, login="bmmsync-bot", type="Bot", name="bmmsync bot"),
    GhUser(id=9000002, login="alice", name="Alice Example"),
    GhUser(id=9000003, login="bob", name="Bob Example"),
    GhUser(id=9000004, login=GITHUB_APP_BOT, type="Bot", name="bmmsync sandbox app"),
)
JIRA_USERS = (
    JiraUser("557058:bmmsync-bot", "bmmsync-bot", "bot@example.com", "bmmsync bot"),
    JiraUser("557058:alice", "alice", "alice@example.com", "Alice Example"),
    JiraUser("557058:bob", "bob", "bob@example.com", "Bob Example"),
)
JIRA_BASIC = {
    ("bot@example.com", "jira-bot-token"): "557058:bmmsync-bot",
    ("alice@example.com", "jira-alice-token"): "557058:alice",
}
JIRA_PATS = {"jira-bot-pat": "557058:bmmsync-bot", "jira-alice-pat": "557058:alice"}

JIRA_STATUSES = ("To Do", "In Progress", "Done")
GITHUB_STATE_REASONS = ("completed", "reopened", "not_planned", "duplicate")


class NotFound(LookupError):
    """The record a request names does not exist."""


@dataclass(slots=True)
class _Data:
    """Everything that persists; kept apart from locks and caches so it pickles cleanly."""

    orgs: dict[str, int] = field(default_factory=dict)  # login -> id
    repos: dict[str, GhRepo] = field(default_factory=dict)  # "owner/name" (lower) -> repo
    issue_types: dict[int, GhIssueType] = field(default_factory=dict)
    gh_comments: dict[int, GhComment] = field(default_factory=dict)
    gh_issue_comments: dict[str, list[int]] = field(default_factory=dict)  # issue key -> ids
    jira_deployment: str = "cloud"
    projects: dict[str, JiraProject] = field(default_factory=dict)
    jira_issues: dict[str, JiraIssue] = field(default_factory=dict)  # key -> issue
    jira_ids: dict[int, str] = field(default_factory=dict)  # id -> key
    jira_comments: dict[int, JiraComment] = field(default_factory=dict)
    next_id: int = 1_000_001
    next_jira_id: int = 10_000


class SandboxState:
    """The sandbox's data plus the clock and config that shape how it changes."""

    def __init__(self, clock: Clock | None = None, config: SandboxConfig | None = None) -> None:
        self.clock = clock or Clock()
        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self.version = 0
        self.data = _Data()
        self.gh_users = {u.login: u for u in GITHUB_USERS}
        self.jira_users = {u.account_id: u for u in JIRA_USERS}
        self.dirty = False
        self._children: dict[str, list[GhIssue]] = {}  # lower parent key -> sub-issues
        self.app_tokens: dict[str, str] = {}  # installation token -> user
        self.webhooks: WebhookBook | None = None  # set by the Sandbox: changes -> deliveries

    def _gh_hook(self, event: str, action: str, issue: GhIssue, **extra: Any) -> None:
        if self.webhooks is not None and self.webhooks.hooks and not issue.is_pr:
            self.webhooks.github(event, action, issue, **extra)

    def _jira_hook(
        self,
        event: str,
        issue: JiraIssue,
        actor: str | None = None,
        type_name: str = "issue_updated",
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        if self.webhooks is not None and self.webhooks.hooks:
            self.webhooks.jira(event, issue, actor, type_name=type_name, items=items)

    # ----- lifecycle -------------------------------------------------------------------
    def reset(self, jira_deployment: str | None = None) -> None:
        with self.lock:
            deployment = jira_deployment or self.data.jira_deployment
            if deployment not in ("cloud", "server"):
                raise ValueError("jira_deployment must be 'cloud' or 'server'")
            self.data = _Data(jira_deployment=deployment)
            self._children = {}
            self.clock.reset()
            self.changed()

    def changed(self) -> None:
        self.version += 1
        self.dirty = True

    def new_id(self) -> int:
        self.data.next_id += 1
        return self.data.next_id

    def save(self, path: Path) -> None:
        """Write the data atomically (pickle: fast for a million tickets, sandbox-only)."""
        with self.lock:
            for repo in self.data.repos.values():
                for issue in repo.issues.values():
                    issue.cache = None
            blob = pickle.dumps(self.data, protocol=pickle.HIGHEST_PROTOCOL)
            self.dirty = False
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        data = pickle.loads(path.read_bytes())
        if not isinstance(data, _Data):
            raise ValueError(f"{path} does not hold sandbox state")
        with self.lock:
            self.data = data
            self._children = {}
            for repo in data.repos.values():
                for issue in repo.issues.values():
                    if issue.parent:
                        self._children.setdefault(issue.parent.lower(), []).append(issue)
            self.changed()
            self.dirty = False

    # ----- GitHub ----------------------------------------------------------------------
    def gh_user(self, login: str) -> GhUser:
        user = self.gh_users.get(login)
        if user is None:
            user = GhUser(id=9000000 + len(self.gh_users) + 1, login=login)
            self.gh_users[login] = user
        return user

    def add_org(self, login: str) -> None:
        with self.lock:
            self.data.orgs.setdefault(login, self.new_id())
            self.changed()

    def add_repo(self, owner: str, name: str) -> GhRepo:
        with self.lock:
            self.add_org(owner)
            repo = GhRepo(id=self.new_id(), owner=owner, name=name, created=self.clock.now())
            self.data.repos[repo.full_name.lower()] = repo
            self.changed()
            return repo

    def add_issue_type(self, name: str, description: str, color: str) -> GhIssueType:
        with self.lock:
            t = GhIssueType(self.new_id(), name, description, color, self.clock.now())
            self.data.issue_types[t.id] = t
            self.changed()
            return t

    def issue_type_named(self, name: str) -> GhIssueType | None:
        for t in self.data.issue_types.values():
            if t.name.lower() == name.lower():
                return t
        return None

    def repo(self, full_name: str) -> GhRepo:
        repo = self.data.repos.get(full_name.lower())
        if repo is None:
            raise NotFound(full_name)
        return repo

    def gh_issue(self, full_name: str, number: int) -> GhIssue:
        issue = self.repo(full_name).issues.get(number)
        if issue is None:
            raise NotFound(f"{full_name}#{number}")
        return issue

    def gh_issue_by_key(self, key: str) -> GhIssue | None:
        full_name, _, number = key.partition("#")
        try:
            return self.gh_issue(full_name, int(number))
        except (NotFound, ValueError):
            return None

    def ensure_label(
        self, repo: GhRepo, name: str, color: str = "ededed", description: str | None = None
    ) -> GhLabel:
        """The repo's label of that name (case-insensitive), created if absent as GitHub does."""
        label = repo.labels.get(name.lower())
        if label is None:
            label = GhLabel(self.new_id(), name, color, description)
            repo.labels[name.lower()] = label
            self.changed()
        return label

    def gh_edit_label(
        self,
        repo: GhRepo,
        name: str,
        actor: str,
        *,
        new_name: str | None = None,
        color: str | None = None,
        description: str | None = None,
    ) -> GhLabel:
        """Rename or recolour a repository label. The issues carrying it show the new name,
        but their `updated` does not move: only the `label` delivery tells a client, so
        incremental listings do not see it. ValueError when `new_name` is taken."""
        with self.lock:
            label = repo.labels.get(name.lower())
            if label is None:
                raise NotFound(name)
            changes: dict[str, Any] = {}
            if new_name is not None and new_name != label.name:
                if new_name.lower() != label.name.lower() and new_name.lower() in repo.labels:
                    raise ValueError(f"label {new_name!r} already exists")
                changes["name"] = {"from": label.name}
                self._relabel(repo, label.name, new_name)
                del repo.labels[label.name.lower()]
                label.name = new_name
                repo.labels[new_name.lower()] = label
            if color is not None and color != label.color:
                changes["color"] = {"from": label.color}
                label.color = color
            if description is not None and description != label.description:
                changes["description"] = {"from": label.description or ""}
                label.description = description
            self.changed()
            if self.webhooks is not None and self.webhooks.hooks:
                self.webhooks.github_label("edited", repo, label, actor, changes)
            return label

    def gh_delete_label(self, repo: GhRepo, name: str, actor: str) -> None:
        """Delete a repository label: it leaves every issue silently (one `label` delivery,
        no `issues` ones, `updated` unchanged)."""
        with self.lock:
            label = repo.labels.get(name.lower())
            if label is None:
                raise NotFound(name)
            self._relabel(repo, label.name, None)
            del repo.labels[name.lower()]
            self.changed()
            if self.webhooks is not None and self.webhooks.hooks:
                self.webhooks.github_label("deleted", repo, label, actor, None)

    def _relabel(self, repo: GhRepo, old: str, new: str | None) -> None:
        for issue in repo.issues.values():
            if any(n.lower() == old.lower() for n in issue.labels):
                issue.labels = [
                    n for n in (new if n.lower() == old.lower() else n for n in issue.labels) if n
                ]
                issue.cache = None

    def gh_touch(self, issue: GhIssue) -> None:
        issue.updated = self.clock.now()
        issue.cache = None
        self._drop_parent_cache(issue)
        self.changed()

    def _drop_parent_cache(self, issue: GhIssue) -> None:
        """A parent's `sub_issues_summary` depends on its children."""
        if issue.parent:
            parent = self.gh_issue_by_key(issue.parent)
            if parent is not None:
                parent.cache = None

    def gh_create_issue(
        self,
        repo_name: str,
        title: str,
        user: str,
        *,
        body: str | None = None,
        labels: list[str] | None = None,
        is_pr: bool = False,
        type_name: str | None = None,
        parent: str | None = None,
        created: int | None = None,
        assignees: list[str] | None = None,
    ) -> GhIssue:
        with self.lock:
            repo = self.repo(repo_name)
            now = self.clock.now() if created is None else created
            type_id = None
            if type_name:
                itype = self.issue_type_named(type_name)
                if itype is None:
                    raise ValueError(f"unknown issue type {type_name!r}")
                type_id = itype.id
            issue = GhIssue(
                id=self.new_id(),
                repo=repo.full_name,
                number=repo.next_number,
                title=title,
                user=self.gh_user(user).login,
                created=now,
                updated=now,
                body=body,
                labels=[self.ensure_label(repo, n).name for n in _unique(labels or [])],
                is_pr=is_pr,
                type_id=type_id,
                parent=parent,
                assignees=list(assignees or []),
            )
            repo.next_number += 1
            repo.issues[issue.number] = issue
            if parent:
                self._children.setdefault(parent.lower(), []).append(issue)
            self._drop_parent_cache(issue)
            self.changed()
            self._gh_hook("issues", "opened", issue, actor=user)
            return issue

    def gh_set_labels(self, issue: GhIssue, names: list[str], actor: str | None = None) -> None:
        with self.lock:
            repo = self.repo(issue.repo)
            before = {n.lower(): n for n in issue.labels}
            issue.labels = [self.ensure_label(repo, n).name for n in _unique(names)]
            self.gh_touch(issue)
            after = {n.lower(): n for n in issue.labels}
            for name in [before[k] for k in before if k not in after]:
                self._gh_hook("issues", "unlabeled", issue, label=name, actor=actor)
            for name in [after[k] for k in after if k not in before]:
                self._gh_hook("issues", "labeled", issue, label=name, actor=actor)

    def gh_edited(self, issue: GhIssue, changes: dict[str, Any], actor: str | None = None) -> None:
        """Title, body or type set directly by a handler: tell the webhooks."""
        with self.lock:
            self.gh_touch(issue)
            if "type" in changes:
                action = "typed" if issue.type_id else "untyped"
                self._gh_hook("issues", action, issue, actor=actor)
            edits = {k: v for k, v in changes.items() if k in ("title", "body")}
            if edits:
                self._gh_hook("issues", "edited", issue, changes=edits, actor=actor)

    def gh_add_labels(self, issue: GhIssue, names: list[str], actor: str | None = None) -> None:
        with self.lock:
            self.gh_set_labels(issue, issue.labels + names, actor)

    def gh_remove_label(self, issue: GhIssue, name: str, actor: str | None = None) -> None:
        """Remove one label (case-insensitive); NotFound if the issue does not carry it."""
        with self.lock:
            kept = [n for n in issue.labels if n.lower() != name.lower()]
            if len(kept) == len(issue.labels):
                raise NotFound(name)
            removed = next(n for n in issue.labels if n.lower() == name.lower())
            issue.labels = kept
            self.gh_touch(issue)
            self._gh_hook("issues", "unlabeled", issue, label=removed, actor=actor)

    def gh_set_state(
        self, issue: GhIssue, state: str, actor: str, reason: str | None = None
    ) -> None:
        if state not in ("open", "closed"):
            raise ValueError("state must be open or closed")
        if reason is not None and reason not in GITHUB_STATE_REASONS:
            raise ValueError(f"state_reason must be one of {GITHUB_STATE_REASONS}")
        with self.lock:
            was = issue.state
            if state == "closed" and issue.state != "closed":
                issue.closed_at = self.clock.now()
                issue.closed_by = actor
                issue.state_reason = reason or "completed"
            elif state == "open" and issue.state != "open":
                issue.closed_at = None
                issue.closed_by = None
                issue.state_reason = reason or "reopened"
            elif reason is not None:
                issue.state_reason = reason
            issue.state = state
            self.gh_touch(issue)
            if was != state:
                action = "closed" if state == "closed" else "reopened"
                self._gh_hook("issues", action, issue, actor=actor)

    def gh_set_parent(self, issue: GhIssue, parent: str | None) -> None:
        with self.lock:
            self._drop_parent_cache(issue)
            old = issue.parent
            if issue.parent:
                self._children[issue.parent.lower()].remove(issue)
            issue.parent = parent
            if parent:
                self._children.setdefault(parent.lower(), []).append(issue)
            self.gh_touch(issue)
            if old and old != parent:
                self._gh_hook("sub_issues", "sub_issue_removed", issue, parent=old)
            if parent and old != parent:
                self._gh_hook("sub_issues", "sub_issue_added", issue, parent=parent)

    def gh_sub_issues(self, issue: GhIssue) -> list[GhIssue]:
        return self._children.get(issue.key.lower(), [])

    def gh_issue_comments(self, issue: GhIssue) -> list[GhComment]:
        ids = self.data.gh_issue_comments.get(issue.key, [])
        return [self.data.gh_comments[i] for i in ids]

    def gh_add_comment(self, issue: GhIssue, body: str, user: str) -> GhComment:
        with self.lock:
            now = self.clock.now()
            comment = GhComment(self.new_id(), issue.repo, issue.number, body, user, now, now)
            self.data.gh_comments[comment.id] = comment
            self.data.gh_issue_comments.setdefault(issue.key, []).append(comment.id)
            issue.comments += 1
            self.gh_touch(issue)
            return comment

    def gh_comment(self, repo_name: str, comment_id: int) -> GhComment:
        comment = self.data.gh_comments.get(comment_id)
        if comment is None or comment.repo.lower() != repo_name.lower():
            raise NotFound(str(comment_id))
        return comment

    def gh_edit_comment(self, comment: GhComment, body: str) -> None:
        with self.lock:
            comment.body = body
            comment.updated = self.clock.now()
            self.changed()

    def gh_delete_comment(self, comment: GhComment) -> None:
        with self.lock:
            del self.data.gh_comments[comment.id]
            issue = self.gh_issue(comment.repo, comment.number)
            self.data.gh_issue_comments[issue.key].remove(comment.id)
            issue.comments -= 1
            issue.cache = None
            self.changed()

    # ----- Jira ------------------------------------------------------------------------
    def add_project(self, key: str, name: str) -> JiraProject:
        with self.lock:
            project = JiraProject(self.new_id(), key, name)
            self.data.projects[key] = project
            self.changed()
            return project

    def _new_jira_id(self) -> int:
        self.data.next_jira_id += 1
        return self.data.next_jira_id

    def jira_issue(self, key_or_id: str) -> JiraIssue:
        key = key_or_id
        if key_or_id.isdigit():
            key = self.data.jira_ids.get(int(key_or_id), "")
        issue = self.data.jira_issues.get(key.upper())
        if issue is None:
            raise NotFound(key_or_id)
        return issue

    def jira_create_issue(
        self,
        project_key: str,
        summary: str,
        reporter: str,
        *,
        issuetype: str = "Task",
        labels: list[str] | None = None,
        parent: str | None = None,
        epic_link: str | None = None,
        capability: Any = None,
        story_points: float | None = None,
        status: str = "To Do",
        description: str | None = None,
        created: int | None = None,
    ) -> JiraIssue:
        with self.lock:
            project = self.data.projects.get(project_key)
            if project is None:
                raise NotFound(project_key)
            _check_labels(labels or [])
            now = self.clock.now() if created is None else created
            issue = JiraIssue(
                id=self._new_jira_id(),
                key=f"{project.key}-{project.next_number}",
                project=project.key,
                summary=summary,
                issuetype=issuetype,
                reporter=reporter,
                created=now,
                updated=now,
                description=description,
                labels=list(labels or []),
                parent=parent,
                epic_link=epic_link,
                capability=capability,
                story_points=story_points,
                changed_at=time.monotonic(),
            )
            project.next_number += 1
            self.data.jira_issues[issue.key] = issue
            self.data.jira_ids[issue.id] = issue.key
            self._set_status(issue, status)
            self.changed()
            self._jira_hook("jira:issue_created", issue, reporter, "issue_created")
            return issue

    def jira_change(self, issue: JiraIssue) -> None:
        """Call before mutating: remember what a lagging search index still sees."""
        lag = self.config.jira_search_lag
        if lag <= 0 or time.monotonic() - issue.changed_at >= lag:
            snapshot = copy.copy(issue)
            snapshot.prev = None
            snapshot.labels = list(issue.labels)
            issue.prev = snapshot
        issue.changed_at = time.monotonic()

    def jira_touch(self, issue: JiraIssue) -> None:
        issue.updated = self.clock.now()
        self.changed()

    def jira_update(self, issue: JiraIssue, actor: str | None = None, **values: Any) -> None:
        """Set record attributes (labels, summary, capability, parent, status...) as one change."""
        with self.lock:
            if "labels" in values:
                _check_labels(values["labels"])
            before = {name: copy.copy(getattr(issue, name, None)) for name in values}
            self.jira_change(issue)
            for name, value in values.items():
                if name == "status":
                    self._set_status(issue, value)
                elif hasattr(issue, name) and name not in ("id", "key", "project", "prev"):
                    setattr(issue, name, value)
                else:
                    raise ValueError(f"cannot set {name!r}")
            self.jira_touch(issue)
            items = [
                _change_item(name, before[name], getattr(issue, name))
                for name in values
                if before[name] != getattr(issue, name)
            ]
            if items:
                self._jira_hook("jira:issue_updated", issue, actor, "issue_updated", items)

    def _set_status(self, issue: JiraIssue, status: str) -> None:
        match = [s for s in JIRA_STATUSES if s.lower() == status.lower()]
        if not match:
            raise ValueError(f"unknown status {status!r}")
        issue.status = match[0]
        issue.resolved = issue.updated if issue.status == "Done" else None

    def jira_delete_issue(self, issue: JiraIssue) -> None:
        with self.lock:
            self._jira_hook("jira:issue_deleted", issue, None, "issue_deleted")
            del self.data.jira_issues[issue.key]
            del self.data.jira_ids[issue.id]
            for cid in issue.comment_ids:
                self.data.jira_comments.pop(cid, None)
            self.changed()

    def jira_add_comment(
        self,
        issue: JiraIssue,
        text: str,
        author: str,
        adf: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
    ) -> JiraComment:
        with self.lock:
            now = self.clock.now()
            comment = JiraComment(
                self.new_id(), issue.id, text, author, now, now, author, adf, properties or {}
            )
            self.data.jira_comments[comment.id] = comment
            self.jira_change(issue)
            issue.comment_ids.append(comment.id)
            self.jira_touch(issue)
            self._jira_hook("jira:issue_updated", issue, author, "issue_commented")
            return comment

    def jira_comment(self, comment_id: str) -> JiraComment:
        comment = self.data.jira_comments.get(int(comment_id)) if comment_id.isdigit() else None
        if comment is None:
            raise NotFound(comment_id)
        return comment

    def jira_edit_comment(
        self, comment: JiraComment, text: str, author: str, adf: dict[str, Any] | None
    ) -> None:
        with self.lock:
            comment.text, comment.adf = text, adf
            comment.update_author = author
            comment.updated = self.clock.now()
            issue = self.jira_issue(str(comment.issue_id))
            self.jira_change(issue)
            self.jira_touch(issue)
            self._jira_hook("jira:issue_updated", issue, author, "issue_comment_edited")

    def jira_delete_comment(self, comment: JiraComment) -> None:
        with self.lock:
            del self.data.jira_comments[comment.id]
            issue = self.jira_issue(str(comment.issue_id))
            self.jira_change(issue)
            issue.comment_ids.remove(comment.id)
            self.jira_touch(issue)
            self._jira_hook("jira:issue_updated", issue, None, "issue_comment_deleted")

    def jira_set_comment_property(self, comment: JiraComment, key: str, value: Any) -> bool:
        """Set a property; True when it was new (the API answers 201 then, else 200)."""
        with self.lock:
            created = key not in comment.properties
            comment.properties[key] = value
            self.changed()
            return created


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def _change_item(name: str, old: Any, new: Any) -> dict[str, Any]:
    """A changelog item as Jira's webhooks carry it (labels as space-separated strings)."""

    def text(value: Any) -> str | None:
        if value is None:
            return None
        return " ".join(value) if isinstance(value, list) else str(value)

    field = {"summary": "summary", "labels": "labels", "status": "status"}.get(name, name)
    return {
        "field": field,
        "fieldtype": "jira" if field in ("summary", "labels", "status") else "custom",
        "fieldId": field,
        "from": None,
        "fromString": text(old),
        "to": None,
        "toString": text(new),
    }


def _check_labels(labels: list[str]) -> None:
    for label in labels:
        if not isinstance(label, str) or not label or " " in label:
            raise ValueError(f"The label '{label}' contains spaces which is invalid.")
