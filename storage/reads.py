"""Plate reads: bulk insert from the workers, lookup, and filtered newest-first search with cursor paging.

Functions flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidQuery, NotFound
from storage.models import PLATE_MAX_LENGTH, Camera, Read
from workers.messages import ReadRecord

MAX_LIMIT = 1000
_NOT_PLATE_CHARS = re.compile(r"[^A-Z0-9]")


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
    await _drop_deleted_cameras(session, rows)
    session.add_all(rows)
    await session.flush()
    return rows


async def get_read(session: AsyncSession, read_id: int) -> Read:
    read = await session.get(Read, read_id)
    if read is None:
        raise NotFound("read", read_id)
    return read


async def search_reads(
    session: AsyncSession, filters: ReadFilters, limit: int = 50, cursor: str | None = None
) -> tuple[list[Read], str | None]:
    """One page of matching reads, newest first by (captured_at, id), and the cursor of the next page
    (None on the last page). Keyset paging: pages stay stable while new reads arrive."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    statement = (
        select(Read)
        .where(*_conditions(filters))
        .order_by(Read.captured_at.desc(), Read.id.desc())
        .limit(limit + 1)  # one extra row tells whether a next page exists
    )
    if cursor is not None:
        statement = statement.where(_after(*decode_cursor(cursor)))
    rows = list((await session.scalars(statement)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.captured_at, last.id)


def encode_cursor(captured_at: datetime, read_id: int) -> str:
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


def _conditions(filters: ReadFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.plate is not None:
        conditions.append(Read.plate == filters.plate)
    if filters.prefix is not None:
        conditions.append(Read.plate.like(filters.prefix + "%"))  # A-Z0-9 only: nothing to escape
    if filters.fuzzy is not None:
        conditions.extend(_fuzzy(filters.fuzzy, filters.max_distance))
    if filters.camera_id is not None:
        conditions.append(Read.camera_id == filters.camera_id)
    if filters.job_id is not None:
        conditions.append(Read.job_id == filters.job_id)
    if filters.since is not None:
        conditions.append(Read.captured_at >= filters.since)
    if filters.until is not None:
        conditions.append(Read.captured_at < filters.until)
    if filters.min_confidence is not None:
        conditions.append(Read.confidence >= filters.min_confidence)
    return conditions


def _fuzzy(plate: str, distance: int) -> list[ColumnElement[bool]]:
    """Plates within `distance` edits of `plate`.

    `levenshtein` is fuzzystrmatch's on Postgres and a rapidfuzz function registered on each SQLite connection
    by `storage.db.make_engine`, so paging works the same on both. The cheap length test runs first: an edit
    changes the length by at most one. Trigram similarity is not used: it scores short plates too low and
    would miss one-character typos.
    """
    if distance == 0:
        return [Read.plate == plate]
    return [
        func.length(Read.plate).between(len(plate) - distance, len(plate) + distance),
        func.levenshtein(Read.plate, plate) <= distance,
    ]


def _after(captured_at: datetime, read_id: int) -> ColumnElement[bool]:
    """Rows strictly after the cursor row in (captured_at desc, id desc) order."""
    return or_(Read.captured_at < captured_at, and_(Read.captured_at == captured_at, Read.id < read_id))


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
    )


def _json_copy(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(candidate) for candidate in candidates]


async def _drop_deleted_cameras(session: AsyncSession, rows: list[Read]) -> None:
    """Frames still in the queue when their camera is deleted must not fail the whole batch on the foreign key:
    such reads are kept without a camera, as the ON DELETE SET NULL rule would have left them."""
    wanted = {row.camera_id for row in rows if row.camera_id is not None}
    if not wanted:
        return
    existing = set((await session.scalars(select(Camera.id).where(Camera.id.in_(wanted)))).all())
    for row in rows:
        if row.camera_id is not None and row.camera_id not in existing:
            row.camera_id = None
