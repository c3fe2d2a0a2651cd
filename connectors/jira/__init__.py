"""Jira Cloud and Server/Data Center through the jira library."""

from connectors.jira.connector import JiraConnector

__all__ = ["JiraConnector"]
