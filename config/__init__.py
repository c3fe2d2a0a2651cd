"""Example configurations, shipped inside the wheel as `bmmsync.examples` (used by `bmmsync demo`)."""
