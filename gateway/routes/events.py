"""Vehicle passes (events): search with the filters of /v1/reads and cursor pagination, one event, its crop."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from gateway.crops import crop_response
from gateway.deps import DbId, ServicesDep, SessionDep
from gateway.routes.reads import CursorQuery, FiltersDep, LimitQuery
from gateway.schemas import ReadPage
from storage.events import get_event, search_events
from storage.schemas import event_payload

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("")
async def search(session: SessionDep, filters: FiltersDep, limit: LimitQuery = 50,
                 cursor: CursorQuery = None) -> ReadPage:
    """Newest passes first (by last_seen); `since`/`until` select the passes overlapping the window."""
    rows, next_cursor = await search_events(session, filters, limit, cursor)
    return ReadPage(items=[event_payload(r) for r in rows], next_cursor=next_cursor)


@router.get("/{event_id}")
async def one(event_id: DbId, session: SessionDep) -> dict[str, Any]:
    return event_payload(await get_event(session, event_id))


@router.get("/{event_id}/crop.jpg", response_class=FileResponse)
async def crop(event_id: DbId, services: ServicesDep, session: SessionDep) -> FileResponse:
    """The crop of the event's best read (the most confident read of the voted text)."""
    event = await get_event(session, event_id)
    return await crop_response(services, event.best_crop_path, f"event {event_id}")
