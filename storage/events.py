"""Events (one per vehicle pass): insert from the workers, link their reads, lookup, filtered search.

Searches take the same `ReadFilters` as reads and share their SQL (`storage.reads.filter_conditions`,
`search_page`): plate filters apply to the voted plate, `min_confidence` to the event's confidence,
`since`/`until` select the passes that overlap the window, `job_id` the events with a read of that job.
Pages are newest first by (last_seen, id). Functions flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidQuery
from storage.lookup import get_or_raise
from storage.models import PLATE_MAX_LENGTH, Event, Read
from storage.reads import (
    ReadFilters,
    SearchColumns,
    drop_deleted_cameras,
    filter_conditions,
    normalize_plate,
    search_page,
)
from workers.messages import EventRecord

EVENT_COLUMNS = SearchColumns(Event.plate, Event.camera_id, Event.confidence, Event.first_seen, Event.last_seen,
                              Event.id)
UPDATE_CHUNK = 1000  # read ids per UPDATE: far below SQLite's and asyncpg's bound-parameter limits


async def add_event(session: AsyncSession, record: EventRecord) -> Event:
    """Insert one event in the caller's transaction; the returned row has its id."""
    plate = normalize_plate(record.plate)
    if not plate or len(plate) > PLATE_MAX_LENGTH:
        raise InvalidQuery(f"event plate {record.plate!r} must have 1 to {PLATE_MAX_LENGTH} letters or digits")
    if record.first_seen > record.last_seen:
        raise InvalidQuery("an event's first_seen must not be after its last_seen")
    row = Event(
        camera_id=record.camera_id,
        plate=plate,
        confidence=record.confidence,
        candidates=[dict(c) for c in record.candidates],
        first_seen=record.first_seen,
        last_seen=record.last_seen,
        frames=record.frames,
        best_read_id=record.best_read_id,
        best_crop_path=record.best_crop_path,
        region=record.region,
    )
    await drop_deleted_cameras(session, [row])  # the camera may be deleted while its last pass is voted
    session.add(row)
    await session.flush()
    return row


async def set_event_for_reads(session: AsyncSession, read_ids: Sequence[int], event_id: int) -> int:
    """Point the given reads at an event; returns how many reads were updated (missing ids are ignored)."""
    ids = sorted(set(read_ids))
    updated = 0
    for start in range(0, len(ids), UPDATE_CHUNK):
        statement = (
            update(Read)
            .where(Read.id.in_(ids[start : start + UPDATE_CHUNK]))
            .values(event_id=event_id)
            .execution_options(synchronize_session=False)
        )
        result = await session.execute(statement)
        updated += int(getattr(result, "rowcount", 0) or 0)
    return updated


async def get_event(session: AsyncSession, event_id: int) -> Event:
    return await get_or_raise(session, Event, event_id, "event")


async def search_events(
    session: AsyncSession, filters: ReadFilters, limit: int = 50, cursor: str | None = None
) -> tuple[list[Event], str | None]:
    """One page of matching events, newest first by (last_seen, id), and the cursor of the next page."""
    conditions = filter_conditions(filters, EVENT_COLUMNS)
    if filters.job_id is not None:
        conditions.append(exists(select(Read.id).where(Read.event_id == Event.id, Read.job_id == filters.job_id)))
    return await search_page(session, Event, EVENT_COLUMNS, conditions, limit, cursor)
