"""What the app's lifespan opens, held on `app.state.services` and reached through dependencies."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.feed import Feed
from gateway.metrics import Metrics
from pipeline.formats import Region
from pipeline.reader import PlateReader
from platestream.settings import ServiceSettings
from workers.queue import FrameQueue

if TYPE_CHECKING:
    from gateway.camera_manager import CameraManager
    from gateway.whip import WhipSessions


@dataclass
class Services:
    settings: ServiceSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    queue: FrameQueue
    feed: Feed
    metrics: Metrics
    region: Region  # the plate regions reads are made under (PLATESTREAM_REGIONS): searches fold as reads do
    redis: Any = None
    reader: PlateReader | None = None
    cameras: CameraManager | None = None
    whip: WhipSessions | None = None
    reader_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
