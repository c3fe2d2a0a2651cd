"""GitHub issues through PyGithub."""
