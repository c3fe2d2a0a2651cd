"""Connectors by `kind`: the built-in ones, plus third-party ones registered under the
entry-point group `bmmsync.connectors` (name = kind, value = a class taking the source's
config section and `ConnectorOptions`)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from bmmsync.errors import ConfigError
from connectors.base import Connector, ConnectorOptions

ENTRY_POINT_GROUP = "bmmsync.connectors"


class ConnectorFactory(Protocol):
    def __call__(self, source: Any, options: ConnectorOptions) -> Connector: ...


def _builtin() -> dict[str, ConnectorFactory]:
    from connectors.github import GitHubConnector
    from connectors.jira import JiraConnector

    return {"github": GitHubConnector, "jira": JiraConnector}


@cache
def factories() -> dict[str, ConnectorFactory]:
    """Every known kind -> factory; entry points may add kinds but not replace built-ins."""
    found = _builtin()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = ep.load()
    return found


def connector_for(source: Any, options: ConnectorOptions) -> Connector:
    """A connector for one configured source section (anything with `.kind` and `.name`)."""
    factory = factories().get(source.kind)
    if factory is None:
        known = ", ".join(sorted(factories()))
        raise ConfigError(
            [f"source {source.name!r}: unknown kind {source.kind!r} (known: {known})"]
        )
    return factory(source, options)
