"""Storing and searching reads on SQLite and Postgres (fixtures from test_storage: fresh, migrated databases),
and their crop files."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import InvalidQuery, NotFound
from storage.crops import crop_file, save_crop
from storage.models import Read
from storage.reads import ReadFilters, add_reads, encode_cursor, get_read, search_reads
from storage.repository import create_camera
from tests.test_storage import T0, database_url, engine, record, session

__all__ = ["database_url", "engine", "session"]  # fixtures shared with test_storage

PLATES = ["ABC123", "ABC124", "XBC123", "AB123", "ABC1234", "XYC123", "ZZZ999"]


async def plates(session: AsyncSession, filters: ReadFilters, limit: int = 100) -> list[str]:
    rows, _ = await search_reads(session, filters, limit)
    return [row.plate for row in rows]


@pytest.fixture
async def sample(session: AsyncSession) -> AsyncSession:
    """One read per plate in PLATES, a minute apart (the first one oldest), all on camera None."""
    await add_reads(session, [record(plate, minutes=i) for i, plate in enumerate(PLATES)])
    await session.commit()
    return session


async def test_add_reads_returns_ids_and_round_trips(session: AsyncSession) -> None:
    camera = await create_camera(session, name="gate", url="rtsp://a")
    local_time = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    rows = await add_reads(
        session,
        [
            record("ab-123 c", camera_id=camera.id, captured_at=local_time, crop_path="crops/x.jpg", job_id="j1"),
            record("XYZ9"),
        ],
    )
    await session.commit()
    assert all(isinstance(row.id, int) for row in rows) and rows[0].id != rows[1].id
    session.expunge_all()  # read back from the database, not the identity map

    stored = await get_read(session, rows[0].id)
    assert stored.plate == "AB123C"  # normalised
    assert stored.captured_at == local_time and stored.captured_at.tzinfo is not None
    assert stored.captured_at.utcoffset() == timedelta(0)
    assert stored.candidates == [{"plate": "ab-123 c", "confidence": 90.0, "matches_template": True}]
    assert stored.box == {"x": 10, "y": 20, "width": 100, "height": 30}
    assert (stored.camera_id, stored.job_id, stored.crop_path, stored.region) == (camera.id, "j1", "crops/x.jpg", "us")
    assert (stored.confidence, stored.detection_confidence, stored.event_id) == (90.0, 80.0, None)
    with pytest.raises(NotFound, match="read"):
        await get_read(session, 10**9)


async def test_add_reads_refuses_overlong_plate(session: AsyncSession) -> None:
    with pytest.raises(InvalidQuery, match="longer than 16"):
        await add_reads(session, [record("A" * 17)])


async def test_exact_and_prefix(sample: AsyncSession) -> None:
    assert await plates(sample, ReadFilters(plate="abc-123")) == ["ABC123"]
    assert await plates(sample, ReadFilters(prefix="abc")) == ["ABC1234", "ABC124", "ABC123"]  # newest first
    assert await plates(sample, ReadFilters(prefix="ABC12", plate="ABC124")) == ["ABC124"]  # filters combine


async def test_fuzzy_one_wrong_character(sample: AsyncSession) -> None:
    found = await plates(sample, ReadFilters(fuzzy="ABC128"))  # one substitution away from ABC123/ABC124
    assert sorted(found) == ["ABC123", "ABC124"]
    assert "XYC123" not in await plates(sample, ReadFilters(fuzzy="ABC123", max_distance=1))  # 2 edits away
    assert sorted(await plates(sample, ReadFilters(fuzzy="ABC123", max_distance=1))) == [
        "AB123",  # one deletion
        "ABC123",
        "ABC1234",  # one insertion
        "ABC124",
        "XBC123",
    ]
    assert "XYC123" in await plates(sample, ReadFilters(fuzzy="ABC123", max_distance=2))


async def test_fuzzy_one_missing_character_and_distance_zero(sample: AsyncSession) -> None:
    assert sorted(await plates(sample, ReadFilters(fuzzy="ZZ999"))) == ["ZZZ999"]
    assert sorted(await plates(sample, ReadFilters(fuzzy="XC123"))) == ["XBC123", "XYC123"]
    assert await plates(sample, ReadFilters(fuzzy="abc 123", max_distance=0)) == ["ABC123"]


async def test_camera_time_window_and_confidence_filters(session: AsyncSession) -> None:
    gate = await create_camera(session, name="gate", url="rtsp://a")
    dock = await create_camera(session, name="dock", url="rtsp://b")
    await add_reads(
        session,
        [
            record("GATE1", minutes=0, camera_id=gate.id, confidence=95),
            record("GATE2", minutes=10, camera_id=gate.id, confidence=60),
            record("DOCK1", minutes=5, camera_id=dock.id, confidence=99),
            record("DOCK2", minutes=20, camera_id=dock.id, confidence=70),
        ],
    )
    await session.commit()
    assert await plates(session, ReadFilters(camera_id=gate.id)) == ["GATE2", "GATE1"]
    window = ReadFilters(since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=20))  # [since, until)
    assert await plates(session, window) == ["GATE2", "DOCK1"]
    naive_since = ReadFilters(since=(T0 + timedelta(minutes=10)).replace(tzinfo=None))  # taken as UTC
    assert await plates(session, naive_since) == ["DOCK2", "GATE2"]
    assert await plates(session, ReadFilters(min_confidence=90)) == ["DOCK1", "GATE1"]
    assert await plates(session, ReadFilters(camera_id=dock.id, min_confidence=75)) == ["DOCK1"]
    assert await plates(session, ReadFilters(camera_id=dock.id + 100)) == []


@pytest.mark.parametrize("filters", [ReadFilters(), ReadFilters(fuzzy="PAGE00")], ids=["all", "fuzzy"])
async def test_pagination_is_stable_without_duplicates(session: AsyncSession, filters: ReadFilters) -> None:
    # 25 reads, three per timestamp, so ties on captured_at must be broken by id.
    await add_reads(session, [record(f"PAGE{i % 10}{i // 10}", minutes=i // 3) for i in range(25)])
    await session.commit()
    expected = [row.plate for row in (await search_reads(session, filters, limit=1000))[0]]
    pages: list[list[Read]] = []
    cursor: str | None = None
    while True:
        rows, cursor = await search_reads(session, filters, limit=10, cursor=cursor)
        pages.append(rows)
        if cursor is None:
            break
        # Reads arriving between pages (newer than everything) must not shift the following pages.
        await add_reads(session, [record("PAGE01", minutes=100 + len(pages))])
        await session.commit()

    found = [row for page in pages for row in page]
    if filters.fuzzy is None:
        assert [len(page) for page in pages] == [10, 10, 5]
    assert len(pages) >= 2 and [row.plate for row in found] == expected
    assert len({row.id for row in found}) == len(found)
    keys = [(row.captured_at, row.id) for row in found]
    assert keys == sorted(keys, reverse=True)


async def test_invalid_cursor_and_limit(sample: AsyncSession) -> None:
    naive = base64.urlsafe_b64encode(b"2024-05-01T12:00:00|5").decode()
    for cursor in ["not a cursor!", "", "eA", naive, base64.urlsafe_b64encode(b"2024-05-01T12:00:00+00:00|x").decode()]:
        with pytest.raises(InvalidQuery, match="cursor"):
            await search_reads(sample, ReadFilters(), limit=10, cursor=cursor)
    for limit in [0, 1001]:
        with pytest.raises(InvalidQuery, match="limit"):
            await search_reads(sample, ReadFilters(), limit=limit)
    rows, _ = await search_reads(sample, ReadFilters(), limit=2, cursor=encode_cursor(T0 + timedelta(minutes=4), 10**9))
    assert [row.plate for row in rows] == ["ABC1234", "AB123"]  # a valid cursor from the outside is accepted


def test_filter_validation() -> None:
    with pytest.raises(ValidationError):
        ReadFilters(plate="--")
    with pytest.raises(ValidationError):
        ReadFilters(fuzzy="ABC", max_distance=3)
    with pytest.raises(ValidationError):
        ReadFilters(since=T0, until=T0)
    with pytest.raises(ValidationError):
        ReadFilters(min_confidence=101)
    assert ReadFilters(prefix=" ab-1 ").prefix == "AB1"
    assert ReadFilters(since=datetime(2024, 1, 1)).since == datetime(2024, 1, 1, tzinfo=UTC)


# --- crops --------------------------------------------------------------------------------------------------


def test_save_crop_writes_dated_file_atomically(tmp_path: Path) -> None:
    local = datetime(2024, 1, 2, 23, 30, tzinfo=UTC) + timedelta(hours=1)  # past midnight UTC: the 3rd
    relative = save_crop(tmp_path, b"\xff\xd8jpeg", local)
    assert relative.startswith("crops/2024/01/03/") and relative.endswith(".jpg")
    assert (tmp_path / relative).read_bytes() == b"\xff\xd8jpeg"
    assert [p.name for p in (tmp_path / relative).parent.iterdir()] == [Path(relative).name]  # no temp files
    assert crop_file(tmp_path, relative) == (tmp_path / relative).resolve()
    assert save_crop(tmp_path, b"x", local) != relative


def test_crop_file_refuses_paths_outside_crops(tmp_path: Path) -> None:
    (tmp_path / "platestream.db").write_bytes(b"secret")
    outside = tmp_path.parent / f"outside-{uuid4().hex}.jpg"
    outside.write_bytes(b"x")
    save_crop(tmp_path, b"x", T0)
    (tmp_path / "crops" / "link.jpg").symlink_to(outside)
    try:
        for bad in [
            "platestream.db",
            "crops/../platestream.db",
            "../" + outside.name,
            str(outside),
            "crops/link.jpg",
            "crops/2024/05/01/missing.jpg",
            "crops",
            "crops/\0.jpg",
        ]:
            with pytest.raises(NotFound):
                crop_file(tmp_path, bad)
    finally:
        outside.unlink()
