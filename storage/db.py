"""Engines, sessions and migrations. SQLite (aiosqlite) is the embedded default, Postgres (asyncpg) production."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from rapidfuzz.distance import Levenshtein
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.models import POSTGRES_ONLY_INDEXES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0  # writers wait this long for the lock instead of failing with "database is locked"
# Any constant works; it only has to be the same in every process that migrates the database.
MIGRATION_LOCK_KEY = 0x706C617465  # "plate"

# Sync driver names people put in DATABASE_URL -> the async driver this package needs.
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'platestream.db').resolve()}"


def async_url(url: str | URL) -> URL:
    """`postgresql://...` and `sqlite:///...` become their async-driver forms; others pass unchanged."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def check_database_url(url: str) -> str:
    """`url` if this package can open it (SQLite through aiosqlite, Postgres through asyncpg); ValueError naming
    what is wrong otherwise, so that a bad setting stops a process at start-up with a message."""
    try:
        driver = async_url(url).drivername
    except ArgumentError as exc:
        raise ValueError(f"not a database URL (e.g. postgresql://user:pass@host:5432/db or sqlite:///path): {exc}"
                         ) from exc
    if driver not in _ASYNC_DRIVERS.values():
        raise ValueError(f"database driver {driver!r} is not supported: use postgresql:// (asyncpg) or "
                         "sqlite:/// (aiosqlite)")
    return url


def is_sqlite_file(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def make_engine(url: str | URL) -> AsyncEngine:
    parsed = async_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Postgres restarts and idle-connection reapers would otherwise surface as errors on the next query.
        return create_async_engine(parsed, pool_pre_ping=True)
    if is_sqlite_file(parsed) and parsed.database and not parsed.database.startswith("file:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # sqlite3's legacy mode skips BEGIN before SELECT/DDL/SAVEPOINT, which breaks savepoints and
    # transactional migrations; SQLAlchemy emits BEGIN itself instead (see _begin_sqlite_transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL: short commits, and outside readers (backups, the sqlite3 shell) don't block writers.
        # NORMAL sync is durable enough under WAL (a power cut may lose the last commits, not corrupt).
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default; needed for ON DELETE SET NULL
    finally:
        cursor.close()
    # Same SQL as Postgres' fuzzystrmatch for fuzzy plate search; deterministic lets SQLite cache/plan it.
    dbapi_connection.create_function("levenshtein", 2, _levenshtein, deterministic=True)


def _levenshtein(a: str | None, b: str | None) -> int | None:
    return None if a is None or b is None else Levenshtein.distance(a, b)


def _begin_sqlite_transaction(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front, waiting up to the busy timeout. A deferred BEGIN that reads and
    # then writes fails at once with "database is locked" when another process committed in between (the
    # busy timeout does not apply to that case); gateway and workers write concurrently. Rails and Django
    # recommend the same for SQLite. Writers are serialised anyway, and WAL keeps the wait short.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def autogenerate_filter(dialect_name: str) -> Callable[..., bool]:
    """Alembic `include_object` hook: hides Postgres-only indexes when comparing models to another database."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (type_ == "index" and name in POSTGRES_ONLY_INDEXES and dialect_name != "postgresql")

    return include_object


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: returned rows stay readable after commit; async sessions cannot lazy-load.
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config built in code, so no alembic.ini has to exist next to an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # `%` is ConfigParser interpolation syntax; URL-encoded passwords contain it.
        rendered = async_url(url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


async def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (idempotent)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_on_connection, alembic_config(url), revision)
    finally:
        await engine.dispose()


def _upgrade_on_connection(connection: Connection, config: Config, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        # Gateway and workers may start together: one migrates, the others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
