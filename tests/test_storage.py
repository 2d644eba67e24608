"""Storage on real databases: every test runs the Alembic migration on a fresh SQLite file and a fresh Postgres
database (created on the server named by PLATESTREAM_TEST_POSTGRES_URL, dropped afterwards)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from storage import Conflict, InvalidQuery, NotFound, default_database_url, make_engine, make_sessionmaker, upgrade
from storage.db import autogenerate_filter
from storage.models import Base, Read
from storage.repository import (
    add_reads,
    add_video_job_progress,
    create_camera,
    create_video_job,
    delete_camera,
    get_camera,
    get_video_job,
    list_cameras,
    update_camera,
    update_camera_status,
    update_video_job,
)
from workers.messages import ReadRecord

POSTGRES_ADMIN_URL = os.environ.get(
    "PLATESTREAM_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


async def _admin_execute(admin: AsyncEngine, sql: str) -> None:
    async with admin.connect() as connection:
        await connection.execute(text(sql))


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a SQLite file in tmp_path, or a new uniquely named Postgres database."""
    if request.param == "sqlite":
        yield default_database_url(tmp_path)
        return
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")  # CREATE DATABASE needs it
    name = f"platestream_test_{uuid4().hex[:12]}"
    try:
        await _admin_execute(admin, f'CREATE DATABASE "{name}"')
    except (OSError, DBAPIError) as error:
        await admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is unusable (start it with scripts/services.sh): {error}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(database_url)  # the migration under test, not metadata.create_all
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with make_sessionmaker(engine)() as session:
        yield session


def record(plate: str, minutes: float = 0, **fields: object) -> ReadRecord:
    values: dict[str, object] = {
        "plate": plate,
        "confidence": 90.0,
        "candidates": [{"plate": plate, "confidence": 90.0, "matches_template": True}],
        "box": {"x": 10, "y": 20, "width": 100, "height": 30},
        "captured_at": T0 + timedelta(minutes=minutes),
        "frame_id": uuid4().hex,
        "region": "us",
        "detection_confidence": 80.0,
    }
    values.update(fields)
    return ReadRecord(**values)  # type: ignore[arg-type]


# --- migrations ---------------------------------------------------------------------------------------------


async def test_upgrade_is_idempotent(database_url: str, engine: AsyncEngine) -> None:
    await upgrade(database_url)
    async with engine.connect() as connection:
        versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        tables = await connection.run_sync(lambda c: set(c.dialect.get_table_names(c)))
    assert versions == ["0004_camera_filters"]
    assert {"cameras", "reads", "video_jobs", "events"} <= tables


async def test_models_match_migration(engine: AsyncEngine) -> None:
    def differences(connection: Connection) -> list[object]:
        options = {"include_object": autogenerate_filter(connection.dialect.name)}
        return list(compare_metadata(MigrationContext.configure(connection, opts=options), Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_has_trigram_index_and_extensions(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        extensions = set((await connection.execute(text("SELECT extname FROM pg_extension"))).scalars())
        index = await connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE tablename = 'reads' AND indexname = 'ix_reads_plate_trgm'")
        )
        definition = index.scalar_one()
    assert {"pg_trgm", "fuzzystrmatch"} <= extensions
    assert "USING gin" in definition and "gin_trgm_ops" in definition


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_uses_wal_and_foreign_keys_and_no_trigram_index(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
        trgm = await connection.execute(text("SELECT name FROM sqlite_master WHERE name = 'ix_reads_plate_trgm'"))
        assert trgm.first() is None  # the GIN index is Postgres-only


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_concurrent_read_then_write_transactions_wait(database_url: str, engine: AsyncEngine) -> None:
    """Two processes' transactions that read, then write must queue for the lock, not fail "database is locked"."""
    other = make_engine(database_url)  # a second pool stands in for a second process

    async def read_then_create(pool: AsyncEngine, name: str) -> None:
        async with make_sessionmaker(pool).begin() as session:
            await list_cameras(session)
            await asyncio.sleep(0.1)  # let the other transaction run in between
            await create_camera(session, name=name, url="rtsp://a")

    try:
        await asyncio.gather(read_then_create(engine, "a"), read_then_create(other, "b"))
    finally:
        await other.dispose()
    async with make_sessionmaker(engine)() as session:
        assert sorted(c.name for c in await list_cameras(session)) == ["a", "b"]


# --- cameras ------------------------------------------------------------------------------------------------


async def test_camera_crud(session: AsyncSession) -> None:
    gate = await create_camera(session, name="gate", url="rtsp://10.0.0.5/stream")
    dock = await create_camera(session, name="dock", url="rtsp://10.0.0.6/stream", fps=2, enabled=False)
    await session.commit()
    assert gate.id is not None and gate.fps == 5.0 and gate.enabled and not gate.connected
    assert gate.created_at.tzinfo is not None

    assert (await get_camera(session, dock.id)).name == "dock"
    assert [c.name for c in await list_cameras(session)] == ["gate", "dock"]

    updated = await update_camera(session, gate.id, fps=10, enabled=False)
    await session.commit()
    assert (updated.name, updated.url, updated.fps, updated.enabled) == ("gate", "rtsp://10.0.0.5/stream", 10, False)
    assert updated.updated_at >= updated.created_at

    await delete_camera(session, dock.id)
    await session.commit()
    assert [c.name for c in await list_cameras(session)] == ["gate"]


async def test_camera_duplicate_name_is_conflict_and_session_survives(session: AsyncSession) -> None:
    gate = await create_camera(session, name="gate", url="rtsp://a")
    dock = await create_camera(session, name="dock", url="rtsp://b")
    with pytest.raises(Conflict, match="gate"):
        await create_camera(session, name="gate", url="rtsp://c")
    with pytest.raises(Conflict, match="gate"):
        await update_camera(session, dock.id, name="gate")
    await session.commit()  # the savepoint kept the earlier work
    session.expire_all()
    assert sorted(c.name for c in await list_cameras(session)) == ["dock", "gate"]
    assert (await get_camera(session, gate.id)).url == "rtsp://a"


async def test_camera_not_found_and_invalid_fps(session: AsyncSession) -> None:
    with pytest.raises(NotFound, match="camera 999"):
        await get_camera(session, 999)
    with pytest.raises(NotFound):
        await update_camera(session, 999, fps=3)
    with pytest.raises(NotFound):
        await delete_camera(session, 999)
    with pytest.raises(NotFound):
        await update_camera_status(session, 999, connected=True)
    with pytest.raises(InvalidQuery, match="fps"):
        await create_camera(session, name="gate", url="rtsp://a", fps=0)


async def test_camera_status_does_not_touch_updated_at(session: AsyncSession) -> None:
    camera = await create_camera(session, name="gate", url="rtsp://a")
    await session.commit()
    updated_at = camera.updated_at
    seen = T0 + timedelta(seconds=3)
    status = await update_camera_status(session, camera.id, connected=True, last_frame_at=seen, measured_fps=4.5)
    await session.commit()
    assert (status.connected, status.last_frame_at, status.measured_fps, status.last_error) == (True, seen, 4.5, None)
    assert status.updated_at == updated_at

    status = await update_camera_status(session, camera.id, connected=False, last_frame_at=seen, last_error="EOF")
    assert (status.connected, status.measured_fps, status.last_error) == (False, None, "EOF")


async def test_deleting_a_camera_keeps_its_reads(session: AsyncSession) -> None:
    camera = await create_camera(session, name="gate", url="rtsp://a")
    [read] = await add_reads(session, [record("ABC123", camera_id=camera.id)])
    await session.commit()
    await delete_camera(session, camera.id)
    await session.commit()
    kept = await session.execute(select(Read).where(Read.id == read.id).execution_options(populate_existing=True))
    assert kept.scalar_one().camera_id is None  # ON DELETE SET NULL (SQLite: needs PRAGMA foreign_keys)

    # A batch still in flight for the deleted camera is stored without a camera instead of failing.
    [late] = await add_reads(session, [record("ABC124", camera_id=camera.id)])
    await session.commit()
    assert late.id is not None and late.camera_id is None


# --- video jobs ---------------------------------------------------------------------------------------------


async def test_video_job_lifecycle(session: AsyncSession) -> None:
    job = await create_video_job(session, filename="parking.mp4")
    await session.commit()
    assert len(job.id) == 32 and job.status == "queued" and (job.frames, job.reads) == (0, 0)
    assert job.finished_at is None

    await update_video_job(session, job.id, status="running")
    await add_video_job_progress(session, job.id, frames=10, reads=2)
    job = await add_video_job_progress(session, job.id, frames=5, reads=1)
    assert (job.frames, job.reads) == (15, 3)
    job = await update_video_job(session, job.id, status="done", frames=16)
    await session.commit()
    assert (job.status, job.frames, job.reads) == ("done", 16, 3)
    assert job.finished_at is not None and job.finished_at >= job.created_at
    assert (await get_video_job(session, job.id)).status == "done"


async def test_video_job_errors(session: AsyncSession) -> None:
    job = await create_video_job(session, filename="a.mp4", job_id="a" * 32)
    with pytest.raises(Conflict):
        await create_video_job(session, filename="b.mp4", job_id="a" * 32)
    with pytest.raises(InvalidQuery, match="status"):
        await update_video_job(session, job.id, status="paused")  # type: ignore[arg-type]
    failed = await update_video_job(session, job.id, status="failed", error="cannot decode")
    assert (failed.status, failed.error) == ("failed", "cannot decode") and failed.finished_at is not None
    with pytest.raises(NotFound, match="video job"):
        await get_video_job(session, "missing")
    with pytest.raises(NotFound):
        await add_video_job_progress(session, "missing", frames=1)
