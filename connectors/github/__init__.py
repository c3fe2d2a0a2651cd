"""GitHub issues through PyGithub."""

from connectors.github.connector import GitHubConnector

__all__ = ["GitHubConnector"]
