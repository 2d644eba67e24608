"""Read history: search with filters and cursor pagination, one read, and its plate crop."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import ValidationError

from gateway.crops import crop_response
from gateway.deps import MAX_DB_ID, DbId, ServicesDep, SessionDep
from gateway.errors import Unprocessable
from gateway.schemas import ReadPage
from storage.reads import ReadFilters, get_read, search_reads
from storage.schemas import read_payload

router = APIRouter(prefix="/v1/reads", tags=["reads"])


def search_filters(
    services: ServicesDep,
    plate: Annotated[str | None, Query(max_length=16, description="exact plate (A-Z0-9 after normalising)")] = None,
    prefix: Annotated[str | None, Query(max_length=16)] = None,
    fuzzy: Annotated[str | None, Query(max_length=16, description="plates within max_distance edits")] = None,
    max_distance: Annotated[int, Query(ge=0, le=2)] = 1,
    camera_id: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    job_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=100)] = None,
) -> ReadFilters:
    """The search query parameters of /v1/reads and /v1/events, validated once for both, and their plates folded
    as the service's region folds what it reads (PLATESTREAM_REGIONS=us reports the letter O as 0)."""
    try:
        filters = ReadFilters(plate=plate, prefix=prefix, fuzzy=fuzzy, max_distance=max_distance,
                              camera_id=camera_id, job_id=job_id, since=since, until=until,
                              min_confidence=min_confidence)
    except ValidationError as exc:
        raise Unprocessable("; ".join(e["msg"] for e in exc.errors())) from exc
    return filters.folded(services.region.fold)


FiltersDep = Annotated[ReadFilters, Depends(search_filters)]
LimitQuery = Annotated[int, Query(ge=1, le=500)]
CursorQuery = Annotated[str | None, Query(max_length=200)]


@router.get("")
async def search(session: SessionDep, filters: FiltersDep, limit: LimitQuery = 50,
                 cursor: CursorQuery = None) -> ReadPage:
    rows, next_cursor = await search_reads(session, filters, limit, cursor)
    return ReadPage(items=[read_payload(r) for r in rows], next_cursor=next_cursor)


@router.get("/{read_id}")
async def one(read_id: DbId, session: SessionDep) -> dict[str, Any]:
    return read_payload(await get_read(session, read_id))


@router.get("/{read_id}/crop.jpg", response_class=FileResponse)
async def crop(read_id: DbId, services: ServicesDep, session: SessionDep) -> FileResponse:
    read = await get_read(session, read_id)
    return await crop_response(services, read.crop_path, f"read {read_id}")
