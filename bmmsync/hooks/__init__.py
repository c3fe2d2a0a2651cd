"""Webhooks: verified deliveries from GitHub and Jira into the durable queue, and the worker
that drains it. Polling stays the safety net: a delivery that never comes costs latency only.
"""
