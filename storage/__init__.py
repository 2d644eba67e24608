"""Storage: cameras, plate reads and video jobs in SQLAlchemy (async), crops on disk.

SQLite (aiosqlite) is the embedded default and Postgres (asyncpg) the production database; the schema is
created and upgraded only by the Alembic migrations in `storage/migrations` (`storage.db.upgrade`).

Repository functions take an `AsyncSession`, flush, and never commit; use
`async with make_sessionmaker(engine).begin() as session:` to get one transaction.
"""

from storage.db import default_database_url, make_engine, make_sessionmaker, upgrade
from storage.errors import Conflict, InvalidQuery, NotFound, StorageError
from storage.models import Camera, Event, Read, VideoJob

__all__ = [
    "Camera",
    "Conflict",
    "Event",
    "InvalidQuery",
    "NotFound",
    "Read",
    "StorageError",
    "VideoJob",
    "default_database_url",
    "make_engine",
    "make_sessionmaker",
    "upgrade",
]
