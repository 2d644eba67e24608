"""Live feed fan-out: workers publish stored reads; every WebSocket client gets each one.

In embedded mode publisher and subscribers share one process (InProcessFeed). With Redis, workers PUBLISH
on a channel and each gateway runs one subscriber task that fans out to its local clients (RedisFeed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)
CLIENT_BUFFER = 256  # events a slow client may fall behind before it is dropped from the feed


class Feed(Protocol):
    async def publish(self, event: dict[str, Any]) -> None: ...

    def subscribe(self) -> AsyncIterator[dict[str, Any]]: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalFanout:
    """Hands each event to every local subscriber's bounded queue."""

    def __init__(self) -> None:
        self._clients: set[asyncio.Queue[dict[str, Any]]] = set()

    def deliver(self, event: dict[str, Any]) -> None:
        for client in list(self._clients):
            try:
                client.put_nowait(event)
            except asyncio.QueueFull:
                # A client that cannot keep up is cut off rather than slowing everyone down.
                self._clients.discard(client)

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(CLIENT_BUFFER)
        self._clients.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._clients.discard(queue)


class InProcessFeed(LocalFanout):
    async def publish(self, event: dict[str, Any]) -> None:
        self.deliver(event)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisFeed(LocalFanout):
    def __init__(self, redis: Redis, channel: str) -> None:
        super().__init__()
        self.redis, self.channel = redis, channel
        self._task: asyncio.Task[None] | None = None

    async def publish(self, event: dict[str, Any]) -> None:
        await self.redis.publish(self.channel, json.dumps(event))

    async def start(self) -> None:
        self._subscribed = asyncio.Event()
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def _listen(self) -> None:
        while True:  # a Redis restart must not end the feed: resubscribe and go on
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self.deliver(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("feed subscriber lost Redis; resubscribing", exc_info=True)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
