"""Connectors: the only code that speaks to trackers. They know domain types, not the store."""
