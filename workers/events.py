"""Vehicle passes in the worker: a plate tracker per camera, a vote per closed track, one stored event each.

The registry lives in the worker process and is shared by its worker tasks. After a batch's reads are stored,
they are fed (with their ids) to their camera's tracker; every loop iteration, also when idle, tracks quiet for
`track_quiet_s` are closed, voted, stored as an `Event`, linked from their reads (`reads.event_id`) and published
on the feed as `{"type": "event", "event": {...}}`. On graceful shutdown every open track is closed first.

Quiet time is measured on each camera's own clock (the capture time of the newest frame processed for it,
plate or not), so a worker that lags behind the cameras does not cut passes short; a camera whose frames stop
coming (disconnected, disabled, queue drained) has its tracks closed after `track_quiet_s` of wall time.

Limitations: tracks live in memory, so a worker that dies loses its open tracks (their reads keep no event).
With several workers, one camera's frames are spread over all of them and each sees only part of a pass: a
pass may yield several events. A follow-up could route frames by camera (consistent hashing on camera_id,
e.g. one stream per camera shard). Reads without a camera (uploaded videos, `/v1/recognize`) are not tracked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.feed import Feed
from gateway.metrics import Metrics
from pipeline.formats import Region
from pipeline.records import Box
from pipeline.track import PlateTracker, Track, TrackerConfig, TrackRead
from pipeline.vote import vote
from storage.models import Read
from storage.schemas import event_payload
from workers.messages import EventRecord, FrameMessage

log = logging.getLogger(__name__)
FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ClosedTrack:
    camera_id: int
    track: Track


def track_read(row: Read) -> TrackRead:
    box = row.box
    return TrackRead(
        read_id=row.id,
        plate=row.plate,
        confidence=row.confidence,
        box=Box(box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]),
        captured_at=row.captured_at,
        frame_id=row.frame_id,
        candidates=tuple((str(c.get("plate", "")), float(c.get("confidence", 0.0))) for c in row.candidates),
        crop_path=row.crop_path,
    )


class TrackerRegistry:
    """One PlateTracker per camera and each camera's clocks. Synchronous: tasks of one event loop share it."""

    def __init__(self, config: TrackerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config, self.clock = config, clock
        self.trackers: dict[int, PlateTracker] = {}
        self.stream_time: dict[int, datetime] = {}  # newest capture time processed, per camera
        self.last_frame: dict[int, float] = {}  # wall (monotonic) time of that frame's processing

    def observe(self, messages: Sequence[FrameMessage], rows: Sequence[Read]) -> None:
        """Advance the cameras' clocks with every processed frame, and track the stored reads."""
        now = self.clock()
        for message in messages:
            if message.camera_id is not None:
                camera = message.camera_id
                seen = self.stream_time.get(camera)
                self.stream_time[camera] = message.captured_at if seen is None else max(seen, message.captured_at)
                self.last_frame[camera] = now
        by_camera: dict[int, list[TrackRead]] = {}
        for row in rows:
            if row.camera_id is not None:  # deleted cameras' reads lost it in storage; nothing to track
                by_camera.setdefault(row.camera_id, []).append(track_read(row))
        for camera, reads in by_camera.items():
            self.trackers.setdefault(camera, PlateTracker(self.config)).add(reads)

    def close_idle(self) -> list[ClosedTrack]:
        closed = []
        now = self.clock()
        for camera, tracker in list(self.trackers.items()):
            silent = now - self.last_frame.get(camera, now) >= self.config.quiet_seconds
            until = FAR_FUTURE if silent else self.stream_time.get(camera, FAR_FUTURE)
            closed += [ClosedTrack(camera, t) for t in tracker.close_idle(until)]
            if not tracker.open:  # forget cameras with nothing open: deleted cameras must not pile up
                del self.trackers[camera]
        return closed

    def close_all(self) -> list[ClosedTrack]:
        closed = [ClosedTrack(camera, t) for camera, tracker in self.trackers.items() for t in tracker.close_all()]
        self.trackers.clear()
        return closed


def event_record(closed: ClosedTrack, region: Region) -> EventRecord:
    reads = closed.track.reads
    result = vote(reads, region)
    best = reads[result.best_index]
    return EventRecord(
        plate=result.plate,
        confidence=round(result.confidence, 2),
        candidates=[{"plate": c.plate, "confidence": c.confidence, "matches_template": c.matches_template}
                    for c in result.candidates],
        first_seen=closed.track.first_seen,
        last_seen=closed.track.last_seen,
        frames=result.frames_used,
        camera_id=closed.camera_id,
        region=region.name,
        best_read_id=best.read_id,
        best_crop_path=best.crop_path,
        read_ids=tuple(r.read_id for r in reads if r.read_id is not None),
    )


async def store_events(closed: Sequence[ClosedTrack], region: Region, sessions: async_sessionmaker[AsyncSession],
                       feed: Feed, metrics: Metrics) -> int:
    """Vote, store and publish one event per closed track; returns how many were stored. A failing track is
    logged and counted, and does not stop the others (its reads simply keep no event)."""
    from storage.events import add_event, set_event_for_reads
    from workers.alerts import on_event_stored

    stored = 0
    for item in closed:
        try:
            record = event_record(item, region)
            async with sessions() as session:
                row = await add_event(session, record)
                await set_event_for_reads(session, record.read_ids, row.id)
                await session.commit()
                payload = event_payload(row)
        except Exception:
            metrics.errors.labels(stage="events").inc()
            log.warning("could not store the event of a track on camera %s", item.camera_id, exc_info=True)
            continue
        stored += 1
        metrics.events_stored.inc()
        try:
            await feed.publish({"type": "event", "event": payload})
        except Exception:  # stored; the feed is best effort, as for reads
            metrics.errors.labels(stage="feed").inc()
            log.warning("could not publish event %s to the feed", payload.get("id"), exc_info=True)
        try:  # watchlist alerts, MQTT and webhooks (workers/alerts.py); the event is stored whatever happens
            await on_event_stored(sessions, feed, row, region.fold)
        except Exception:
            metrics.errors.labels(stage="alerts").inc()
            log.warning("could not check event %s against the watchlists", payload.get("id"), exc_info=True)
    return stored
