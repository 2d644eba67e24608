"""The FastAPI application: `create_app(settings)`, with a lifespan that opens and closes every pool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.deps import require_token
from gateway.errors import install_error_handlers
from gateway.feed import Feed, InProcessFeed, RedisFeed
from gateway.metrics import Metrics, create_metrics
from gateway.reach import open_database, open_redis
from gateway.routes import cameras, events, feed, health, reads, recognize, videos, watchlists
from gateway.routes.web import mount_ui
from gateway.state import Services
from platestream import __version__
from platestream.errors import ServiceUnavailable
from platestream.settings import ServiceSettings
from workers import alerts
from workers.queue import FrameQueue


async def open_services(settings: ServiceSettings, metrics: Metrics) -> Services:
    from storage.db import make_sessionmaker, upgrade
    from workers.queue import InProcessQueue
    from workers.redis_queue import RedisFrameQueue

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    engine = await open_database(url)
    try:
        redis = await open_redis(settings.redis_url) if settings.redis_url else None
    except ServiceUnavailable:
        await engine.dispose()
        raise
    if settings.auto_migrate:
        await upgrade(url)
    queue: FrameQueue
    feed_impl: Feed
    if redis is not None:
        queue = RedisFrameQueue(redis, stream=settings.stream_key, maxlen=settings.queue_maxlen)
        feed_impl = RedisFeed(redis, settings.feed_channel)
    else:
        queue, feed_impl = InProcessQueue(maxlen=settings.queue_maxlen), InProcessFeed()
    await feed_impl.start()
    alerts.install(settings, feed_impl)  # MQTT and webhook channels of the alerts raised with this feed
    return Services(settings=settings, engine=engine, sessions=make_sessionmaker(engine), queue=queue,
                    feed=feed_impl, metrics=metrics, region=settings.check_regions(), redis=redis)


async def close_services(services: Services) -> None:
    if services.whip:
        await services.whip.close_all()
    if services.cameras:
        await services.cameras.close()
    for task in list(services.background):
        task.cancel()
    await asyncio.gather(*services.background, return_exceptions=True)
    await alerts.uninstall(services.feed)
    await services.feed.close()
    await services.queue.close()
    if services.redis is not None:
        await services.redis.aclose()
    await services.engine.dispose()


def create_app(settings: ServiceSettings, *, services: Services | None = None, ingest: bool = True) -> FastAPI:
    """`services` lets the embedded runner share its queue and feed with an in-process worker;
    `ingest=False` serves the API without reading cameras (for a gateway that only answers queries)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from gateway.camera_manager import CameraManager
        from gateway.whip import WhipSessions

        owned = services is None
        state = services or await open_services(settings, create_metrics())
        app.state.services = state
        state.whip = WhipSessions(state.queue.publish, state.metrics, settings.jpeg_quality,
                                  settings.webrtc_ice_servers_list(), settings.webrtc_loopback_only)
        if ingest:
            state.cameras = CameraManager(state)
            await state.cameras.start()
        try:
            yield
        finally:
            if owned:
                await close_services(state)
            else:
                await state.whip.close_all()
                if state.cameras:
                    await state.cameras.close()

    app = FastAPI(title="platestream", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins.split(","),
                           allow_methods=["*"], allow_headers=["*"])
    protected = [Depends(require_token)]
    app.include_router(health.router)
    app.include_router(recognize.router, dependencies=protected)
    app.include_router(cameras.router, dependencies=protected)
    app.include_router(reads.router, dependencies=protected)
    app.include_router(events.router, dependencies=protected)
    app.include_router(videos.router, dependencies=protected)
    for router in watchlists.routers:
        app.include_router(router, dependencies=protected)
    app.include_router(feed.router)  # WebSockets check the token themselves (browsers cannot set headers)
    mount_ui(app)  # the browser UI at / and /ui (static files; it sends the token on each API call)
    return app
