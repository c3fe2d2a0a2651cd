"""Jira REST objects: issues, users, comments, fields, serverInfo, in Cloud or Server shape.

v2 bodies carry wiki text, v3 bodies Atlassian Document Format (ADF). Timestamps are shown
in the Jira user's time zone (`2026-11-23T10:00:00.000+0100`), as Jira does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bmmsync.sandbox.records import JiraComment, JiraIssue, JiraUser
from bmmsync.sandbox.state import SandboxState

CAPABILITY = "customfield_10010"
EPIC_LINK = "customfield_10014"
STORY_POINTS = "customfield_10016"

ISSUE_TYPES = {  # name -> (id, subtask, hierarchy level)
    "Epic": ("10000", False, 1),
    "Story": ("10001", False, 0),
    "Task": ("10002", False, 0),
    "Bug": ("10003", False, 0),
    "Sub-task": ("10004", True, -1),
}
STATUSES = {  # name -> (id, category id, category key, colour)
    "To Do": ("10000", 2, "new", "blue-gray"),
    "In Progress": ("3", 4, "indeterminate", "yellow"),
    "Done": ("10001", 3, "done", "green"),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}


def jira_time(epoch: int | None, tz: ZoneInfo) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%dT%H:%M:%S.000%z")


def adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document, one paragraph per line."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


def adf_text(doc: Any) -> str:
    """The text of an ADF document (paragraphs joined by newlines)."""
    if isinstance(doc, dict):
        if doc.get("type") == "text":
            return str(doc.get("text", ""))
        parts = [adf_text(c) for c in doc.get("content", [])]
        joiner = "\n" if doc.get("type") == "doc" else ""
        return joiner.join(parts)
    return ""


def is_adf(doc: Any) -> bool:
    return (
        isinstance(doc, dict) and doc.get("type") == "doc" and isinstance(doc.get("content"), list)
    )


class JiraRenderer:
    """Renders records for one request: knows the base URL, API version and deployment."""

    def __init__(self, state: SandboxState, base: str, version: str) -> None:
        self.state = state
        self.base = base  # http://host:port/jira
        self.version = version
        self.api = f"{base}/rest/api/{version}"
        self.server = state.data.jira_deployment == "server"
        self.tz = ZoneInfo(state.config.jira_time_zone)

    def time(self, epoch: int | None) -> str | None:
        return jira_time(epoch, self.tz)

    def text(self, text: str | None, doc: dict[str, Any] | None = None) -> Any:
        if text is None:
            return None
        if self.version == "3":
            return doc or adf(text)
        return text

    def user(self, account_id: str | None) -> dict[str, Any] | None:
        if account_id is None:
            return None
        u = self.state.jira_users.get(account_id) or JiraUser(account_id, account_id, "", "")
        avatars = {
            s: f"{self.base}/avatars/{u.name}?s={s[:2]}"
            for s in ("48x48", "24x24", "16x16", "32x32")
        }
        out: dict[str, Any] = {"self": f"{self.api}/user?accountId={u.account_id}"}
        if self.server:
            out = {"self": f"{self.api}/user?username={u.name}", "name": u.name, "key": u.name}
        else:
            out["accountId"] = u.account_id
            out["accountType"] = "atlassian"
        return out | {
            "emailAddress": u.email,
            "avatarUrls": avatars,
            "displayName": u.display_name,
            "active": True,
            "timeZone": self.state.config.jira_time_zone,
        }

    def myself(self, account_id: str) -> dict[str, Any]:
        out = self.user(account_id) or {}
        out["locale"] = "en_US"
        return out

    def server_info(self) -> dict[str, Any]:
        now = self.state.clock.now()
        cloud = not self.server
        version = "1001.0.0-SNAPSHOT" if cloud else "9.12.15"
        return {
            "baseUrl": self.base,
            "displayUrl": self.base,
            "version": version,
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 15],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100300 if cloud else 9120015,
            "buildDate": "2026-11-01T00:00:00.000+0000",
            "serverTime": self.time(now),
            "scmInfo": "sandbox",
            "serverTitle": "Jira (bmmsync sandbox)",
        }

    def fields(self) -> list[dict[str, Any]]:
        def system(fid: str, name: str, ftype: str, **schema: Any) -> dict[str, Any]:
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [fid],
                "schema": {"type": ftype, "system": fid, **schema},
            }

        def custom(num: int, name: str, ftype: str, plugin: str) -> dict[str, Any]:
            fid = f"customfield_{num}"
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{num}]", name],
                "schema": {"type": ftype, "custom": plugin, "customId": num},
            }

        out = [
            system("summary", "Summary", "string"),
            system("description", "Description", "string"),
            system("issuetype", "Issue Type", "issuetype"),
            system("project", "Project", "project"),
            system("status", "Status", "status"),
            system("labels", "Labels", "array", items="string"),
            system("parent", "Parent", "issuelink"),
            system("assignee", "Assignee", "user"),
            system("reporter", "Reporter", "user"),
            system("created", "Created", "datetime"),
            system("updated", "Updated", "datetime"),
            system("resolutiondate", "Resolved", "datetime"),
            system("comment", "Comment", "comments-page"),
            custom(
                10010,
                "Capability",
                "option",
                "com.atlassian.jira.plugin.system.customfieldtypes:select",
            ),
            custom(
                10016,
                "Story Points",
                "number",
                "com.atlassian.jira.plugin.system.customfieldtypes:float",
            ),
        ]
        if self.server:
            out.append(custom(10014, "Epic Link", "any", "com.pyxis.greenhopper.jira:gh-epic-link"))
        return out

    def status(self, name: str) -> dict[str, Any]:
        sid, cid, ckey, colour = STATUSES[name]
        return {
            "self": f"{self.api}/status/{sid}",
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": name,
            "id": sid,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{cid}",
                "id": cid,
                "key": ckey,
                "colorName": colour,
                "name": name,
            },
        }

    def issuetype(self, name: str) -> dict[str, Any]:
        tid, subtask, level = ISSUE_TYPES.get(name, ISSUE_TYPES["Task"])
        return {
            "self": f"{self.api}/issuetype/{tid}",
            "id": tid,
            "description": "",
            "iconUrl": f"{self.base}/images/icons/issuetypes/{name.lower()}.png",
            "name": name,
            "subtask": subtask,
            "hierarchyLevel": level,
        }

    def issue_link(self, key: str) -> dict[str, Any]:
        """A parent reference; a deleted parent keeps only its key (the trace sees a gap)."""
        target = self.state.data.jira_issues.get(key)
        if target is None:
            return {"key": key, "self": f"{self.api}/issue/{key}"}
        return {
            "id": str(target.id),
            "key": target.key,
            "self": f"{self.api}/issue/{target.id}",
            "fields": {
                "summary": target.summary,
                "status": self.status(target.status),
                "issuetype": self.issuetype(target.issuetype),
            },
        }

    def capability(self, value: Any) -> Any:
        if isinstance(value, dict) and "value" in value:
            oid = str(value.get("id", "10100"))
            return {
                "self": f"{self.api}/customFieldOption/{oid}",
                "value": value["value"],
                "id": oid,
            }
        return value

    def comment(self, comment: JiraComment) -> dict[str, Any]:
        out = {
            "self": f"{self.api}/issue/{comment.issue_id}/comment/{comment.id}",
            "id": str(comment.id),
            "author": self.user(comment.author),
            "body": self.text(comment.text, comment.adf),
            "updateAuthor": self.user(comment.update_author),
            "created": self.time(comment.created),
            "updated": self.time(comment.updated),
        }
        if not self.server:
            out["jsdPublic"] = True
        return out

    def comments_page(self, issue: JiraIssue, start: int = 0, limit: int = 100) -> dict[str, Any]:
        ids = issue.comment_ids
        chunk = [self.state.data.jira_comments[i] for i in ids[start : start + limit]]
        return {
            "comments": [self.comment(c) for c in chunk],
            "self": f"{self.api}/issue/{issue.id}/comment",
            "maxResults": limit,
            "total": len(ids),
            "startAt": start,
        }

    def all_fields(self, issue: JiraIssue) -> dict[str, Any]:
        project = self.state.data.projects[issue.project]
        fields: dict[str, Any] = {
            "summary": issue.summary,
            "description": self.text(issue.description),
            "issuetype": self.issuetype(issue.issuetype),
            "project": {
                "self": f"{self.api}/project/{project.id}",
                "id": str(project.id),
                "key": project.key,
                "name": project.name,
                "projectTypeKey": "software",
                "simplified": False,
            },
            "status": self.status(issue.status),
            "labels": list(issue.labels),
            "assignee": self.user(issue.assignee),
            "reporter": self.user(issue.reporter),
            "created": self.time(issue.created),
            "updated": self.time(issue.updated),
            "resolutiondate": self.time(issue.resolved),
            "comment": self.comments_page(issue),
            CAPABILITY: self.capability(issue.capability),
            STORY_POINTS: issue.story_points,
        }
        if issue.parent:
            fields["parent"] = self.issue_link(issue.parent)
        if self.server:
            fields[EPIC_LINK] = issue.epic_link
        return fields

    def issue(self, issue: JiraIssue, wanted: set[str] | None = None) -> dict[str, Any]:
        """The issue; `wanted` None means every field, an empty set means the id only."""
        if wanted is not None and not wanted:
            return {"id": str(issue.id)}
        fields = self.all_fields(issue)
        if wanted is not None:
            fields = {k: v for k, v in fields.items() if k in wanted}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": str(issue.id),
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    def transitions(self) -> dict[str, Any]:
        return {
            "expand": "transitions",
            "transitions": [
                {
                    "id": tid,
                    "name": name,
                    "to": self.status(name),
                    "hasScreen": False,
                    "isGlobal": True,
                    "isInitial": False,
                    "isAvailable": True,
                    "isConditional": False,
                    "looped": False,
                }
                for tid, name in TRANSITIONS.items()
            ],
        }
