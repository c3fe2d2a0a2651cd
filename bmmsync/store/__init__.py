"""The SQLAlchemy store: models, sessions, repositories with bulk upserts."""
