"""Jira Cloud and Server/Data Center through the jira library."""
