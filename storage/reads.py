"""Plate reads: bulk insert from the workers, lookup, and filtered newest-first search with cursor paging.

Functions flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.errors import InvalidQuery
from storage.lookup import get_or_raise
from storage.models import PLATE_MAX_LENGTH, Base, Camera, Read
from workers.messages import ReadRecord

MAX_LIMIT = 1000
RowT = TypeVar("RowT", bound=Base)
_NOT_PLATE_CHARS = re.compile(r"[^A-Z0-9]")


class HasCamera(Protocol):
    camera_id: int | None


def normalize_plate(value: str) -> str:
    """The canonical plate text: uppercase A-Z0-9 only ("ab-123 c" -> "AB123C"), as the recognizer's output."""
    return _NOT_PLATE_CHARS.sub("", value.upper())


class ReadFilters(BaseModel):
    """Search filters; all given filters must hold. Plate-like values are normalised with `normalize_plate`.

    `since` is inclusive and `until` exclusive; naive datetimes are taken as UTC. `fuzzy` matches plates within
    `max_distance` edits (insert, delete or substitute one character); `max_distance=0` is an exact match.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    plate: str | None = None
    prefix: str | None = None
    fuzzy: str | None = None
    max_distance: int = Field(default=1, ge=0, le=2)
    camera_id: int | None = None
    job_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=100)

    @field_validator("plate", "prefix", "fuzzy")
    @classmethod
    def _normalize_plate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_plate(value)
        if not normalized:
            raise ValueError("must contain at least one letter or digit")
        return normalized

    def folded(self, fold: Callable[[str], str]) -> ReadFilters:
        """These filters with their plate-like values folded as the reading region folds reads
        (pipeline.formats.Region.fold): a `us` service finds its `D0N0R` reads when asked for `DONOR`."""
        return self.model_copy(update={name: fold(value) for name in ("plate", "prefix", "fuzzy")
                                       if (value := getattr(self, name)) is not None})

    @field_validator("since", "until")
    @classmethod
    def _assume_utc(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def _check_window(self) -> Self:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be earlier than until")
        return self


async def add_reads(session: AsyncSession, records: Sequence[ReadRecord]) -> list[Read]:
    """Insert a batch of reads in the caller's transaction; the returned rows have their ids."""
    rows = [_row(record) for record in records]
    await drop_deleted_cameras(session, rows)
    session.add_all(rows)
    await session.flush()
    return rows


async def get_read(session: AsyncSession, read_id: int) -> Read:
    return await get_or_raise(session, Read, read_id, "read")


async def search_reads(
    session: AsyncSession, filters: ReadFilters, limit: int = 50, cursor: str | None = None
) -> tuple[list[Read], str | None]:
    """One page of matching reads, newest first by (captured_at, id), and the cursor of the next page
    (None on the last page). Keyset paging: pages stay stable while new reads arrive."""
    conditions = filter_conditions(filters, READ_COLUMNS)
    if filters.job_id is not None:
        conditions.append(Read.job_id == filters.job_id)
    return await search_page(session, Read, READ_COLUMNS, conditions, limit, cursor)


@dataclass(frozen=True)
class SearchColumns:
    """The columns a `ReadFilters` search and its paging use, so reads and events share one implementation.

    A row matches `since`/`until` when its [start, end] time span overlaps [since, until); pages are ordered by
    (end, id), newest first. A read is an instant (start = end = captured_at); an event spans a vehicle pass.
    """

    plate: InstrumentedAttribute[str]
    camera_id: InstrumentedAttribute[int | None]
    confidence: InstrumentedAttribute[float]
    start: InstrumentedAttribute[datetime]
    end: InstrumentedAttribute[datetime]
    id: InstrumentedAttribute[int]


READ_COLUMNS = SearchColumns(Read.plate, Read.camera_id, Read.confidence, Read.captured_at, Read.captured_at,
                             Read.id)


async def search_page(
    session: AsyncSession, model: type[RowT], columns: SearchColumns, conditions: list[ColumnElement[bool]],
    limit: int, cursor: str | None,
) -> tuple[list[RowT], str | None]:
    """One keyset page of `model` rows matching `conditions`, newest first, and the next page's cursor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    statement = (
        select(model)
        .where(*conditions)
        .order_by(columns.end.desc(), columns.id.desc())
        .limit(limit + 1)  # one extra row tells whether a next page exists
    )
    if cursor is not None:
        statement = statement.where(_after(columns, *decode_cursor(cursor)))
    rows = list((await session.scalars(statement)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(getattr(last, columns.end.key), getattr(last, columns.id.key))


def encode_cursor(captured_at: datetime, read_id: int) -> str:
    """The cursor after a row: its (time, id) sort key (reads: captured_at; events: last_seen)."""
    raw = f"{captured_at.astimezone(UTC).isoformat()}|{read_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        stamp, read_id = raw.split("|")
        captured_at = datetime.fromisoformat(stamp)
        if captured_at.tzinfo is None:
            raise ValueError("cursor time has no time zone")
        return captured_at, int(read_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidQuery(f"invalid cursor {cursor[:64]!r}: pass back a next_cursor from a previous page") from error


def filter_conditions(filters: ReadFilters, columns: SearchColumns) -> list[ColumnElement[bool]]:
    """SQL conditions for every filter but `job_id` (which only reads carry directly)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.plate is not None:
        conditions.append(columns.plate == filters.plate)
    if filters.prefix is not None:
        conditions.append(columns.plate.like(filters.prefix + "%"))  # A-Z0-9 only: nothing to escape
    if filters.fuzzy is not None:
        conditions.extend(_fuzzy(columns.plate, filters.fuzzy, filters.max_distance))
    if filters.camera_id is not None:
        conditions.append(columns.camera_id == filters.camera_id)
    if filters.since is not None:
        conditions.append(columns.end >= filters.since)
    if filters.until is not None:
        conditions.append(columns.start < filters.until)
    if filters.min_confidence is not None:
        conditions.append(columns.confidence >= filters.min_confidence)
    return conditions


def _fuzzy(column: InstrumentedAttribute[str], plate: str, distance: int) -> list[ColumnElement[bool]]:
    """Plates within `distance` edits of `plate`.

    `levenshtein` is fuzzystrmatch's on Postgres and a rapidfuzz function registered on each SQLite connection
    by `storage.db.make_engine`, so paging works the same on both. The cheap length test runs first: an edit
    changes the length by at most one. Trigram similarity is not used: it scores short plates too low and
    would miss one-character typos.
    """
    if distance == 0:
        return [column == plate]
    return [
        func.length(column).between(len(plate) - distance, len(plate) + distance),
        func.levenshtein(column, plate) <= distance,
    ]


def _after(columns: SearchColumns, end: datetime, row_id: int) -> ColumnElement[bool]:
    """Rows strictly after the cursor row in (end desc, id desc) order."""
    return or_(columns.end < end, and_(columns.end == end, columns.id < row_id))


def _row(record: ReadRecord) -> Read:
    plate = normalize_plate(record.plate)
    if len(plate) > PLATE_MAX_LENGTH:
        raise InvalidQuery(f"plate {plate!r} is longer than {PLATE_MAX_LENGTH} characters")
    return Read(
        camera_id=record.camera_id,
        job_id=record.job_id,
        frame_id=record.frame_id,
        plate=plate,
        confidence=record.confidence,
        detection_confidence=record.detection_confidence,
        region=record.region,
        candidates=_json_copy(record.candidates),
        box=dict(record.box),
        captured_at=record.captured_at,
        crop_path=record.crop_path,
        matches_template=record.matches_template,
    )


def _json_copy(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(candidate) for candidate in candidates]


async def drop_deleted_cameras(session: AsyncSession, rows: Sequence[HasCamera]) -> None:
    """Frames still in the queue when their camera is deleted must not fail the whole batch on the foreign key:
    such reads (and events) are kept without a camera, as the ON DELETE SET NULL rule would have left them."""
    wanted = {row.camera_id for row in rows if row.camera_id is not None}
    if not wanted:
        return
    existing = set((await session.scalars(select(Camera.id).where(Camera.id.in_(wanted)))).all())
    for row in rows:
        if row.camera_id is not None and row.camera_id not in existing:
            row.camera_id = None
