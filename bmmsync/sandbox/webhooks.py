"""The sandbox sends webhooks: every ticket change, through the API or the control API, goes
as a signed delivery in GitHub's or Jira's payload shape to the URLs registered through
`/_sandbox/webhooks`, with the faults real senders have (drops, duplicates, delays,
reordering, a wrong signature).

Payloads are built when the change happens (under the state lock, so they show the ticket as
it was then, as real senders do) and sent by one background thread, in order unless a fault
says otherwise. Every delivery is logged with its outcome so tests can wait for and count them.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from bmmsync.hooks.signature import sign
from bmmsync.sandbox.github_json import issue_json, label_json, repo_json, user_json
from bmmsync.sandbox.jira_json import JiraRenderer
from bmmsync.sandbox.records import GhIssue, GhLabel, GhRepo, JiraIssue

if TYPE_CHECKING:
    from bmmsync.sandbox.state import SandboxState

log = logging.getLogger(__name__)

TRACKERS = ("github", "jira")


@dataclass
class Hook:
    url: str
    tracker: str
    secret: str
    base: str  # the sandbox's own root URL, for the API links inside payloads


@dataclass
class HookFaults:
    """Faults on the next deliveries; counts go down as they are used."""

    drop_percent: float = 0.0
    duplicate: int = 0
    delay: float = 0.0
    reorder: int = 0
    bad_signature: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "drop_percent": self.drop_percent,
            "duplicate": self.duplicate,
            "delay": self.delay,
            "reorder": self.reorder,
            "bad_signature": self.bad_signature,
        }


@dataclass
class Outgoing:
    hook: Hook
    delivery_id: str
    event: str
    action: str
    key: str
    body: bytes
    generation: int
    headers: dict[str, str] = field(default_factory=dict)


class WebhookBook:
    """Registered hooks, their faults, the sender thread and the delivery log."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.hooks: list[Hook] = []
        self.faults = HookFaults()
        self._rng = random.Random(0)
        self._held: list[Outgoing] = []
        self._queue: queue.Queue[Outgoing] = queue.Queue()
        self._lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.pending = 0
        self.generation = 0  # bumped by clear(): deliveries queued before are not sent
        self._thread: threading.Thread | None = None

    # ----- control ---------------------------------------------------------------------
    def register(self, url: str, tracker: str, secret: str, base: str) -> Hook:
        if tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {TRACKERS}")
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        hook = Hook(url, tracker, secret, base.rstrip("/"))
        with self._lock:
            self.hooks.append(hook)
        return hook

    def set_faults(self, values: dict[str, Any]) -> HookFaults:
        with self._lock:
            for name, value in values.items():
                if name == "seed":  # not a fault: it picks which deliveries a share drops
                    continue
                if name not in ("drop_percent", "duplicate", "delay", "reorder", "bad_signature"):
                    raise ValueError(f"unknown webhook fault {name!r}")
                setattr(self.faults, name, type(getattr(self.faults, name))(value))
            self._rng = random.Random(int(values.get("seed", 0)))
            return self.faults

    def clear(self) -> None:
        with self._lock:
            self.hooks = []
            self.faults = HookFaults()
            self._held = []
            self.log = []
            self.pending = 0
            self.generation += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "hooks": [{"url": h.url, "tracker": h.tracker} for h in self.hooks],
                "faults": self.faults.as_dict(),
                "pending": self.pending + len(self._held),
                "deliveries": list(self.log),
            }

    # ----- changes in, deliveries out --------------------------------------------------
    def github(self, event: str, action: str, issue: GhIssue, **extra: Any) -> None:
        """A change to a GitHub issue (called by the state, under its lock)."""
        for hook in self._hooks("github"):
            api = hook.base + "/github"
            repo = self.state.repo(issue.repo)
            payload: dict[str, Any] = {"action": action}
            if event == "sub_issues":
                parent = self.state.gh_issue_by_key(extra["parent"])
                if parent is None:
                    continue
                parent_repo = self.state.repo(parent.repo)
                payload |= {
                    "sub_issue_id": issue.id,
                    "sub_issue": issue_json(self.state, api, issue),
                    "sub_issue_repo": repo_json(self.state, api, repo),
                    "parent_issue_id": parent.id,
                    "parent_issue": issue_json(self.state, api, parent),
                    "parent_issue_repo": repo_json(self.state, api, parent_repo),
                }
                repo = parent_repo
            else:
                payload["issue"] = issue_json(self.state, api, issue)
                if "label" in extra:
                    label = repo.labels.get(extra["label"].lower())
                    if label is not None:
                        payload["label"] = label_json(api, repo.full_name, label)
                if "changes" in extra:
                    payload["changes"] = extra["changes"]
            payload["repository"] = repo_json(self.state, api, repo)
            payload["sender"] = user_json(api, self.state.gh_user(extra.get("actor") or issue.user))
            self._post(hook, event, action, issue.key, payload)

    def github_label(
        self,
        action: str,
        repo: GhRepo,
        label: GhLabel,
        actor: str,
        changes: dict[str, Any] | None,
    ) -> None:
        """A repository label edited (renamed, recoloured) or deleted: GitHub's `label` event."""
        for hook in self._hooks("github"):
            api = hook.base + "/github"
            payload: dict[str, Any] = {
                "action": action,
                "label": label_json(api, repo.full_name, label),
            }
            if changes is not None:
                payload["changes"] = changes
            payload["repository"] = repo_json(self.state, api, repo)
            payload["sender"] = user_json(api, self.state.gh_user(actor))
            self._post(hook, "label", action, repo.full_name, payload)

    def jira(
        self,
        event: str,
        issue: JiraIssue,
        actor: str | None,
        *,
        type_name: str,
        items: list[dict[str, Any]] | None = None,
    ) -> None:
        """A change to a Jira issue: `jira:issue_created|updated|deleted`."""
        for hook in self._hooks("jira"):
            render = JiraRenderer(self.state, hook.base + "/jira", "2")
            payload: dict[str, Any] = {
                "timestamp": int(self.state.clock.now() * 1000),
                "webhookEvent": event,
                "issue_event_type_name": type_name,
                "user": render.user(actor or issue.reporter),
                "issue": render.issue(issue),
            }
            if items:
                payload["changelog"] = {"id": str(self.state.new_id()), "items": items}
            self._post(hook, event, type_name, issue.key, payload)

    def _hooks(self, tracker: str) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks if h.tracker == tracker]

    def _post(self, hook: Hook, event: str, action: str, key: str, payload: Any) -> None:
        body = json.dumps(payload).encode()
        out = Outgoing(hook, str(uuid.uuid4()), event, action, key, body, self.generation)
        with self._lock:
            faults = self.faults
            if faults.drop_percent and self._rng.random() * 100 < faults.drop_percent:
                self.log.append(self._entry(out, "dropped", None))
                return
            wrong = faults.bad_signature > 0
            if wrong:
                faults.bad_signature -= 1
            out.headers = self._headers(out, "not-the-secret" if wrong else hook.secret)
            copies = 1
            if faults.duplicate > 0:
                faults.duplicate -= 1
                copies = 2
            if faults.reorder > 0:
                faults.reorder -= 1
                self._held.extend([out] * copies)
                if faults.reorder == 0:
                    for held in reversed(self._held):
                        self._enqueue(held)
                    self._held = []
                return
            for _ in range(copies):
                self._enqueue(out)

    def _enqueue(self, out: Outgoing) -> None:
        self.pending += 1
        self._queue.put(out)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._send_loop, daemon=True, name="hooks")
            self._thread.start()

    def _headers(self, out: Outgoing, secret: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if out.hook.tracker == "github":
            headers |= {
                "User-Agent": "GitHub-Hookshot/sandbox",
                "X-GitHub-Event": out.event,
                "X-GitHub-Delivery": out.delivery_id,
                "X-GitHub-Hook-ID": "1",
                "X-Hub-Signature-256": sign(secret, out.body),
            }
        else:
            headers |= {
                "User-Agent": "Atlassian Webhook HTTP Client",
                "X-Atlassian-Webhook-Identifier": out.delivery_id,
                "X-Hub-Signature": sign(secret, out.body),
            }
        return headers

    def _entry(self, out: Outgoing, outcome: str, status: int | None) -> dict[str, Any]:
        return {
            "id": out.delivery_id,
            "tracker": out.hook.tracker,
            "event": out.event,
            "action": out.action,
            "key": out.key,
            "outcome": outcome,
            "status": status,
        }

    def _send_loop(self) -> None:
        while True:
            try:
                out = self._queue.get(timeout=30)
            except queue.Empty:
                return
            if out.generation != self.generation:
                continue
            delay = self.faults.delay
            if delay:
                time.sleep(delay)
            status: int | None = None
            try:
                answer = requests.post(out.hook.url, data=out.body, headers=out.headers, timeout=10)
                status = answer.status_code
                outcome = "delivered" if answer.ok else "refused"
            except requests.RequestException as exc:
                outcome = f"failed: {type(exc).__name__}"
            with self._lock:
                if out.generation == self.generation:
                    self.log.append(self._entry(out, outcome, status))
                    self.pending -= 1
