"""Alembic migrations, shipped inside the wheel as `bmmsync.migrations`."""
