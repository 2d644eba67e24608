"""Alembic migrations for the storage package (run them with `storage.db.upgrade`)."""
