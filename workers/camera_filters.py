"""Per-camera plate filters in the worker: each camera's zones and minimum plate width, read from storage and
cached for a few seconds, applied to the pipeline's results before they are stored.

The cache keeps the worker from querying the cameras table for every batch, while an edit made through the API
(PATCH /v1/cameras/{id}) still takes effect within `ttl_s`. Frames without a camera (uploaded videos) and frames
of a camera deleted meanwhile are not filtered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pipeline.records import FrameResult
from pipeline.zones import PlateFilter
from storage.models import Camera
from workers.messages import FrameMessage

DEFAULT_TTL_S = 5.0
KEEP_ALL = PlateFilter()


class CameraFilters:
    """Cache of PlateFilter per camera id; a cached entry is trusted for `ttl_s` seconds."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions, self.ttl_s, self.clock = sessions, ttl_s, clock
        self._cache: dict[int, tuple[float, PlateFilter]] = {}

    async def filters_for(self, camera_ids: set[int]) -> dict[int, PlateFilter]:
        """Each camera's filter, one query for all those missing or stale."""
        now = self.clock()
        stale = {c for c in camera_ids if (hit := self._cache.get(c)) is None or now - hit[0] >= self.ttl_s}
        if stale:
            async with self.sessions() as session:
                rows = (await session.execute(
                    select(Camera.id, Camera.zones, Camera.min_plate_width).where(Camera.id.in_(stale)))).all()
            found = {row.id: PlateFilter.from_config(row.zones, row.min_plate_width) for row in rows}
            for camera_id in stale:  # a deleted camera keeps everything: its reads lose the camera anyway
                self._cache[camera_id] = (now, found.get(camera_id, KEEP_ALL))
        return {c: self._cache[c][1] for c in camera_ids}

    async def apply(self, messages: Sequence[FrameMessage], results: list[FrameResult]) -> list[FrameResult]:
        """The results with the reads their camera ignores removed (in place: the results are the worker's own)."""
        cameras = {m.camera_id for m in messages if m.camera_id is not None}
        if not cameras:
            return results
        filters = await self.filters_for(cameras)
        for message, result in zip(messages, results, strict=True):
            plate_filter = filters.get(message.camera_id) if message.camera_id is not None else None
            if plate_filter is not None and not plate_filter.keeps_everything:
                result.reads = [r for r in result.reads
                                if plate_filter.keeps(r.box, result.width, result.height)]
        return results
