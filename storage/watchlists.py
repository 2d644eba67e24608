"""Watchlists and their entries, webhook targets, alerts and the webhook delivery log.

Plates are stored normalised (A-Z0-9, as events are), so an exact match is string equality. Like every
repository function here, these flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, InvalidQuery, NotFound
from storage.lookup import assign_given, get_or_raise
from storage.models import (
    MAX_FUZZY_DISTANCE,
    PLATE_MAX_LENGTH,
    Alert,
    Event,
    Watchlist,
    WatchlistEntry,
    WebhookDelivery,
    WebhookTarget,
)
from storage.reads import normalize_plate

MAX_ALERTS_PAGE = 500


@dataclass(frozen=True, slots=True)
class EntrySpec:
    plate: str
    label: str = ""
    match: str = "exact"
    max_distance: int = 0


def checked_entry(spec: EntrySpec) -> EntrySpec:
    """The entry with its plate normalised; InvalidQuery (422) explains what is wrong otherwise."""
    plate = normalize_plate(spec.plate)
    if not plate:
        raise InvalidQuery(f"plate {spec.plate!r} must contain at least one letter or digit")
    if len(plate) > PLATE_MAX_LENGTH:
        raise InvalidQuery(f"plate {spec.plate!r} is longer than {PLATE_MAX_LENGTH} letters and digits")
    if spec.match not in ("exact", "fuzzy"):
        raise InvalidQuery(f"match must be 'exact' or 'fuzzy', got {spec.match!r}")
    if not 0 <= spec.max_distance <= MAX_FUZZY_DISTANCE:
        raise InvalidQuery(f"max_distance must be between 0 and {MAX_FUZZY_DISTANCE}, got {spec.max_distance}")
    if spec.match == "exact" and spec.max_distance:
        raise InvalidQuery("max_distance applies to fuzzy entries only; exact entries must use 0")
    return EntrySpec(plate, spec.label, spec.match, spec.max_distance)


def checked_entries(specs: Sequence[EntrySpec]) -> list[EntrySpec]:
    entries = [checked_entry(s) for s in specs]
    plates = [e.plate for e in entries]
    duplicates = sorted({p for p in plates if plates.count(p) > 1})
    if duplicates:
        raise InvalidQuery(f"plates listed twice in one watchlist: {', '.join(duplicates)}")
    return entries


@asynccontextmanager
async def _unique(session: AsyncSession, message: str) -> AsyncIterator[None]:
    """Flush inside a savepoint, so a duplicate becomes Conflict (409) without aborting the transaction."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as error:
        raise Conflict(message) from error


# --- watchlists ---------------------------------------------------------------------------------------------


async def create_watchlist(session: AsyncSession, name: str, entries: Sequence[EntrySpec] = ()) -> Watchlist:
    specs = checked_entries(entries)
    watchlist = Watchlist(name=name)
    async with _unique(session, f"a watchlist named {name!r} already exists"):
        session.add(watchlist)
    session.add_all(WatchlistEntry(watchlist_id=watchlist.id, **_fields(s)) for s in specs)
    await session.flush()
    return watchlist


async def get_watchlist(session: AsyncSession, watchlist_id: int) -> Watchlist:
    return await get_or_raise(session, Watchlist, watchlist_id, "watchlist")


async def list_watchlists(session: AsyncSession) -> Sequence[Watchlist]:
    return (await session.scalars(select(Watchlist).order_by(Watchlist.id))).all()


async def list_entries(session: AsyncSession, watchlist_id: int | None = None) -> Sequence[WatchlistEntry]:
    statement = select(WatchlistEntry).order_by(WatchlistEntry.id)
    if watchlist_id is not None:
        statement = statement.where(WatchlistEntry.watchlist_id == watchlist_id)
    return (await session.scalars(statement)).all()


async def update_watchlist(session: AsyncSession, watchlist_id: int, name: str | None = None,
                           entries: Sequence[EntrySpec] | None = None) -> Watchlist:
    """Rename and/or replace the whole entry list (None leaves either as it is)."""
    watchlist = await get_watchlist(session, watchlist_id)
    specs = checked_entries(entries) if entries is not None else None
    if name is not None and name != watchlist.name:
        async with _unique(session, f"a watchlist named {name!r} already exists"):
            watchlist.name = name
    if specs is not None:
        await session.execute(delete(WatchlistEntry).where(WatchlistEntry.watchlist_id == watchlist_id))
        session.add_all(WatchlistEntry(watchlist_id=watchlist_id, **_fields(s)) for s in specs)
        await session.flush()
    return watchlist


async def delete_watchlist(session: AsyncSession, watchlist_id: int) -> None:
    await session.delete(await get_watchlist(session, watchlist_id))
    await session.flush()


async def add_entry(session: AsyncSession, watchlist_id: int, spec: EntrySpec) -> WatchlistEntry:
    await get_watchlist(session, watchlist_id)
    checked = checked_entry(spec)
    entry = WatchlistEntry(watchlist_id=watchlist_id, **_fields(checked))
    async with _unique(session, f"plate {checked.plate} is already on watchlist {watchlist_id}"):
        session.add(entry)
    return entry


async def delete_entry(session: AsyncSession, watchlist_id: int, entry_id: int) -> None:
    entry = await session.get(WatchlistEntry, entry_id)
    if entry is None or entry.watchlist_id != watchlist_id:
        raise NotFound("watchlist entry", entry_id)
    await session.delete(entry)
    await session.flush()


def _fields(spec: EntrySpec) -> dict[str, object]:
    return {"plate": spec.plate, "label": spec.label, "match": spec.match, "max_distance": spec.max_distance}


# --- matching -----------------------------------------------------------------------------------------------


def unchanged(plate: str) -> str:
    return plate


def entry_distance(plate: str, entry: WatchlistEntry, fold: Callable[[str], str] = unchanged) -> int | None:
    """Edits between the plate and the entry when it matches, else None. `fold` is the reading region's
    look-alike rule (pipeline.formats.Region.fold), applied to the entry as the plate had it applied: an entry
    typed `DONOR` matches the `D0N0R` a camera set to the `us` region reports."""
    wanted = fold(entry.plate)
    if entry.match == "exact":
        return 0 if plate == wanted else None
    # score_cutoff stops the computation early and returns cutoff + 1 for anything farther away.
    distance = Levenshtein.distance(plate, wanted, score_cutoff=entry.max_distance)
    return distance if distance <= entry.max_distance else None


async def alerts_for_event(session: AsyncSession, event: Event,
                           fold: Callable[[str], str] = unchanged) -> list[Alert]:
    """Store one alert per watchlist with a matching entry (its closest one) and return them; `fold` as for
    `entry_distance`.

    Every entry is compared in Python: fuzzy matching cannot use an index, and watchlists are small
    (hundreds of plates), so one SELECT per event is cheaper than anything cleverer.
    """
    best: dict[int, tuple[int, WatchlistEntry]] = {}
    for entry in await list_entries(session):
        distance = entry_distance(event.plate, entry, fold)
        if distance is not None and (entry.watchlist_id not in best or distance < best[entry.watchlist_id][0]):
            best[entry.watchlist_id] = (distance, entry)
    alerts = [Alert(event_id=event.id, watchlist_id=watchlist_id, entry_id=entry.id, plate=event.plate,
                    entry_plate=entry.plate, label=entry.label, distance=distance)
              for watchlist_id, (distance, entry) in sorted(best.items())]
    session.add_all(alerts)
    await session.flush()
    return alerts


async def get_alert(session: AsyncSession, alert_id: int) -> Alert:
    return await get_or_raise(session, Alert, alert_id, "alert")


async def list_alerts(session: AsyncSession, limit: int = 50, before_id: int | None = None) -> list[Alert]:
    """Newest first; `before_id` (the last id of the previous page) is the cursor of the next page."""
    if not 1 <= limit <= MAX_ALERTS_PAGE:
        raise InvalidQuery(f"limit must be between 1 and {MAX_ALERTS_PAGE}")
    statement = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if before_id is not None:
        statement = statement.where(Alert.id < before_id)
    return list((await session.scalars(statement)).all())


# --- webhook targets and deliveries ---------------------------------------------------------------------------


async def create_target(session: AsyncSession, url: str, secret: str, enabled: bool = True) -> WebhookTarget:
    target = WebhookTarget(url=url, secret=secret, enabled=enabled)
    session.add(target)
    await session.flush()
    return target


async def get_target(session: AsyncSession, target_id: int) -> WebhookTarget:
    return await get_or_raise(session, WebhookTarget, target_id, "webhook")


async def list_targets(session: AsyncSession, enabled_only: bool = False) -> Sequence[WebhookTarget]:
    statement = select(WebhookTarget).order_by(WebhookTarget.id)
    if enabled_only:
        statement = statement.where(WebhookTarget.enabled.is_(True))
    return (await session.scalars(statement)).all()


async def update_target(session: AsyncSession, target_id: int, url: str | None = None, secret: str | None = None,
                        enabled: bool | None = None) -> WebhookTarget:
    target = await get_target(session, target_id)
    assign_given(target, url=url, secret=secret, enabled=enabled)
    await session.flush()
    return target


async def delete_target(session: AsyncSession, target_id: int) -> None:
    await session.delete(await get_target(session, target_id))
    await session.flush()


async def log_delivery(session: AsyncSession, alert_id: int, target_id: int, *, succeeded: bool,
                       status_code: int | None = None, error: str | None = None) -> WebhookDelivery:
    """Record one attempt; its number follows the attempts already logged for this alert and target."""
    done = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.alert_id == alert_id, WebhookDelivery.target_id == target_id))
    row = WebhookDelivery(alert_id=alert_id, target_id=target_id, attempt=int(done or 0) + 1, succeeded=succeeded,
                          status_code=status_code, error=error)
    session.add(row)
    await session.flush()
    return row


async def list_deliveries(session: AsyncSession, alert_id: int) -> Sequence[WebhookDelivery]:
    await get_alert(session, alert_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.alert_id == alert_id).order_by(WebhookDelivery.id)
    return (await session.scalars(statement)).all()
