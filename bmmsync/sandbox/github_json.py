"""GitHub REST objects in the 2022-11-28 shape (what PyGithub receives by default).

Keys follow `github-issues-subset.2022-11-28.json`; optional keys that GitHub leaves out of
plain issues (`pull_request`, `parent_issue_url`) are left out here too.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from bmmsync.sandbox.clock import iso_z
from bmmsync.sandbox.records import GhComment, GhIssue, GhIssueType, GhLabel, GhRepo, GhUser
from bmmsync.sandbox.state import SandboxState
from bmmsync.sandbox.web import dumps

MEMBERS = frozenset({"alice", "bob"})


def node_id(prefix: str, ident: int) -> str:
    return prefix + "_kwDO" + base64.b64encode(ident.to_bytes(6, "big")).decode().rstrip("=")


def html_base(api: str) -> str:
    """Where the fake github.com pages would live (not served; stable and clearly local)."""
    return api + "/html"


def user_json(api: str, user: GhUser) -> dict[str, Any]:
    url = f"{api}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("U", user.id),
        "avatar_url": f"{api}/avatars/{user.login}",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{html_base(api)}/{user.login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def full_user_json(api: str, user: GhUser, created: int) -> dict[str, Any]:
    """`GET /user`: the public-user shape (no private counters are known here)."""
    return user_json(api, user) | {
        "name": user.name,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": iso_z(created),
        "updated_at": iso_z(created),
    }


def label_json(api: str, repo: str, label: GhLabel) -> dict[str, Any]:
    return {
        "id": label.id,
        "node_id": node_id("LA", label.id),
        "url": f"{api}/repos/{repo}/labels/{quote(label.name, safe='')}",
        "name": label.name,
        "color": label.color,
        "default": label.default,
        "description": label.description,
    }


def issue_type_json(itype: GhIssueType) -> dict[str, Any]:
    return {
        "id": itype.id,
        "node_id": node_id("IT", itype.id),
        "name": itype.name,
        "description": itype.description,
        "color": itype.color,
        "created_at": iso_z(itype.created),
        "updated_at": iso_z(itype.created),
        "is_enabled": True,
    }


def reactions_json(url: str) -> dict[str, Any]:
    return {
        "url": f"{url}/reactions",
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "hooray": 0,
        "confused": 0,
        "heart": 0,
        "rocket": 0,
        "eyes": 0,
    }


def association(login: str) -> str:
    return "MEMBER" if login in MEMBERS else "NONE"


def issue_json(state: SandboxState, api: str, issue: GhIssue) -> dict[str, Any]:
    repo = state.repo(issue.repo)
    repo_url = f"{api}/repos/{repo.full_name}"
    url = f"{repo_url}/issues/{issue.number}"
    html = f"{html_base(api)}/{repo.full_name}/{'pull' if issue.is_pr else 'issues'}"
    children = state.gh_sub_issues(issue) if not issue.is_pr else []
    done = sum(1 for c in children if c.state == "closed")
    assignees = [user_json(api, state.gh_user(a)) for a in issue.assignees]
    out: dict[str, Any] = {
        "url": url,
        "repository_url": repo_url,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{html}/{issue.number}",
        "id": issue.id,
        "node_id": node_id("PR" if issue.is_pr else "I", issue.id),
        "number": issue.number,
        "title": issue.title,
        "user": user_json(api, state.gh_user(issue.user)),
        "labels": [
            label_json(api, repo.full_name, repo.labels[name.lower()]) for name in issue.labels
        ],
        "state": issue.state,
        "locked": False,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "comments": issue.comments,
        "created_at": iso_z(issue.created),
        "updated_at": iso_z(issue.updated),
        "closed_at": iso_z(issue.closed_at),
        "author_association": association(issue.user),
        "active_lock_reason": None,
        "body": issue.body,
        "reactions": reactions_json(url),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": issue.state_reason,
    }
    if issue.is_pr:
        pulls = f"{repo_url}/pulls/{issue.number}"
        out["draft"] = False
        out["pull_request"] = {
            "url": pulls,
            "html_url": f"{html}/{issue.number}",
            "diff_url": f"{html}/{issue.number}.diff",
            "patch_url": f"{html}/{issue.number}.patch",
            "merged_at": iso_z(issue.closed_at) if issue.state_reason == "completed" else None,
        }
    else:
        itype = state.data.issue_types.get(issue.type_id) if issue.type_id else None
        out["type"] = issue_type_json(itype) if itype else None
        if issue.parent:
            parent_repo, _, number = issue.parent.partition("#")
            out["parent_issue_url"] = f"{api}/repos/{parent_repo}/issues/{number}"
        out["sub_issues_summary"] = {
            "total": len(children),
            "completed": done,
            "percent_completed": (done * 100 // len(children)) if children else 0,
        }
    return out


def issue_bytes(state: SandboxState, api: str, issue: GhIssue) -> bytes:
    """The issue's JSON, cached on the record until it changes (list pages join these)."""
    cached = issue.cache
    if cached is not None and cached[0] == api:
        return cached[1]
    body = dumps(issue_json(state, api, issue))
    issue.cache = (api, body)
    return body


def single_issue_bytes(state: SandboxState, api: str, issue: GhIssue) -> bytes:
    """One issue as `GET .../issues/{n}` returns it: the listed form plus `closed_by`."""
    closed_by = user_json(api, state.gh_user(issue.closed_by)) if issue.closed_by else None
    return issue_bytes(state, api, issue)[:-1] + b',"closed_by":' + dumps(closed_by) + b"}"


def comment_json(state: SandboxState, api: str, comment: GhComment) -> dict[str, Any]:
    url = f"{api}/repos/{comment.repo}/issues/comments/{comment.id}"
    return {
        "url": url,
        "html_url": f"{html_base(api)}/{comment.repo}/issues/{comment.number}"
        f"#issuecomment-{comment.id}",
        "issue_url": f"{api}/repos/{comment.repo}/issues/{comment.number}",
        "id": comment.id,
        "node_id": node_id("IC", comment.id),
        "user": user_json(api, state.gh_user(comment.user)),
        "created_at": iso_z(comment.created),
        "updated_at": iso_z(comment.updated),
        "author_association": association(comment.user),
        "body": comment.body,
        "reactions": reactions_json(url),
        "performed_via_github_app": None,
    }


def org_json(api: str, login: str, org_id: int, created: int) -> dict[str, Any]:
    url = f"{api}/orgs/{login}"
    return {
        "login": login,
        "id": org_id,
        "node_id": node_id("O", org_id),
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": f"{api}/avatars/{login}",
        "description": f"The {login} organisation (sandbox)",
        "name": login.title(),
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "twitter_username": None,
        "is_verified": False,
        "has_organization_projects": True,
        "has_repository_projects": True,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": f"{html_base(api)}/{login}",
        "created_at": iso_z(created),
        "updated_at": iso_z(created),
        "archived_at": None,
        "type": "Organization",
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repo_json(state: SandboxState, api: str, repo: GhRepo) -> dict[str, Any]:
    url = f"{api}/repos/{repo.full_name}"
    html = f"{html_base(api)}/{repo.full_name}"
    owner = state.gh_user(repo.owner)
    owner_json = user_json(api, owner) | {"type": "Organization", "id": state.data.orgs[repo.owner]}
    open_count = sum(1 for i in repo.issues.values() if i.state == "open")
    out: dict[str, Any] = {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": owner_json,
        "private": False,
        "html_url": html,
        "description": f"{repo.name} (sandbox)",
        "fork": False,
        "url": url,
    }
    out |= {key: url + suffix for key, suffix in _REPO_URLS.items()}
    out |= {
        "git_url": f"git://sandbox/{repo.full_name}.git",
        "ssh_url": f"git@sandbox:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": "main",
        "open_issues_count": open_count,
        "open_issues": open_count,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "pushed_at": iso_z(repo.created),
        "created_at": iso_z(repo.created),
        "updated_at": iso_z(repo.created),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
        "license": None,
        "network_count": 0,
        "subscribers_count": 0,
    }
    return out
