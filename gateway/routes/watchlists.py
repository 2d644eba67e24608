"""Watchlists (plates to alert on), webhook targets, and the alerts with their webhook delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.deps import MAX_DB_ID, DbId, SessionDep
from gateway.schemas import ReadPage
from storage import watchlists as repo
from storage.models import Watchlist
from storage.watchlist_schemas import (
    AlertOut,
    DeliveryOut,
    EntryIn,
    EntryOut,
    WatchlistIn,
    WatchlistOut,
    WatchlistPatch,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
    alert_payload,
)

watchlists = APIRouter(prefix="/v1/watchlists", tags=["watchlists"])
webhooks = APIRouter(prefix="/v1/webhooks", tags=["watchlists"])
alerts = APIRouter(prefix="/v1/alerts", tags=["watchlists"])
routers = (watchlists, webhooks, alerts)
NO_CONTENT = status.HTTP_204_NO_CONTENT


async def watchlist_out(session: AsyncSession, watchlist: Watchlist) -> WatchlistOut:
    entries = [EntryOut.model_validate(e) for e in await repo.list_entries(session, watchlist.id)]
    return WatchlistOut(id=watchlist.id, name=watchlist.name, created_at=watchlist.created_at, entries=entries)


@watchlists.post("", status_code=status.HTTP_201_CREATED)
async def create_watchlist(body: WatchlistIn, session: SessionDep) -> WatchlistOut:
    """A name (unique: 409 otherwise) and its entries; plates are stored as A-Z0-9."""
    watchlist = await repo.create_watchlist(session, body.name, [e.spec() for e in body.entries])
    await session.commit()
    return await watchlist_out(session, watchlist)


@watchlists.get("")
async def list_watchlists(session: SessionDep) -> list[WatchlistOut]:
    return [await watchlist_out(session, w) for w in await repo.list_watchlists(session)]


@watchlists.get("/{watchlist_id}")
async def get_watchlist(watchlist_id: DbId, session: SessionDep) -> WatchlistOut:
    return await watchlist_out(session, await repo.get_watchlist(session, watchlist_id))


@watchlists.patch("/{watchlist_id}")
async def patch_watchlist(watchlist_id: DbId, body: WatchlistPatch, session: SessionDep) -> WatchlistOut:
    """Rename, and/or replace the whole entry list with `entries`."""
    entries = [e.spec() for e in body.entries] if body.entries is not None else None
    watchlist = await repo.update_watchlist(session, watchlist_id, body.name, entries)
    await session.commit()
    return await watchlist_out(session, watchlist)


@watchlists.delete("/{watchlist_id}", status_code=NO_CONTENT)
async def delete_watchlist(watchlist_id: DbId, session: SessionDep) -> Response:
    """Its entries go with it; past alerts stay (with watchlist_id null)."""
    await repo.delete_watchlist(session, watchlist_id)
    await session.commit()
    return Response(status_code=NO_CONTENT)


@watchlists.post("/{watchlist_id}/entries", status_code=status.HTTP_201_CREATED)
async def add_entry(watchlist_id: DbId, body: EntryIn, session: SessionDep) -> EntryOut:
    entry = await repo.add_entry(session, watchlist_id, body.spec())
    await session.commit()
    return EntryOut.model_validate(entry)


@watchlists.delete("/{watchlist_id}/entries/{entry_id}", status_code=NO_CONTENT)
async def delete_entry(watchlist_id: DbId, entry_id: DbId, session: SessionDep) -> Response:
    await repo.delete_entry(session, watchlist_id, entry_id)
    await session.commit()
    return Response(status_code=NO_CONTENT)


@webhooks.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookIn, session: SessionDep) -> WebhookOut:
    """Every alert is POSTed here, signed with `secret` (X-Platestream-Signature: sha256=<hex HMAC>)."""
    target = await repo.create_target(session, body.url, body.secret, body.enabled)
    await session.commit()
    return WebhookOut.model_validate(target)


@webhooks.get("")
async def list_webhooks(session: SessionDep) -> list[WebhookOut]:
    return [WebhookOut.model_validate(t) for t in await repo.list_targets(session)]


@webhooks.get("/{target_id}")
async def get_webhook(target_id: DbId, session: SessionDep) -> WebhookOut:
    return WebhookOut.model_validate(await repo.get_target(session, target_id))


@webhooks.patch("/{target_id}")
async def patch_webhook(target_id: DbId, body: WebhookPatch, session: SessionDep) -> WebhookOut:
    target = await repo.update_target(session, target_id, body.url, body.secret, body.enabled)
    await session.commit()
    return WebhookOut.model_validate(target)


@webhooks.delete("/{target_id}", status_code=NO_CONTENT)
async def delete_webhook(target_id: DbId, session: SessionDep) -> Response:
    await repo.delete_target(session, target_id)
    await session.commit()
    return Response(status_code=NO_CONTENT)


@alerts.get("")
async def list_alerts(session: SessionDep, limit: Annotated[int, Query(ge=1, le=repo.MAX_ALERTS_PAGE)] = 50,
                      cursor: Annotated[int | None, Query(ge=1, le=MAX_DB_ID,
                                                          description="next_cursor of the previous page")] = None,
                      ) -> ReadPage:
    """Newest first."""
    rows = await repo.list_alerts(session, limit, cursor)
    next_cursor = str(rows[-1].id) if len(rows) == limit else None
    return ReadPage(items=[alert_payload(a) for a in rows], next_cursor=next_cursor)


@alerts.get("/{alert_id}")
async def get_alert(alert_id: DbId, session: SessionDep) -> AlertOut:
    return AlertOut.model_validate(await repo.get_alert(session, alert_id))


@alerts.get("/{alert_id}/deliveries")
async def list_deliveries(alert_id: DbId, session: SessionDep) -> list[DeliveryOut]:
    """Every webhook attempt for this alert, oldest first: the delivery log."""
    return [DeliveryOut.model_validate(d) for d in await repo.list_deliveries(session, alert_id)]
