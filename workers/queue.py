"""The frame queue between the gateway (producer) and the workers (consumers).

One interface, `FrameQueue`, two implementations with the same semantics:

* `RedisFrameQueue` (workers/redis_queue.py): a Redis stream with one consumer group, for the
  gateway and workers running as separate processes;
* `InProcessQueue` (here): the same thing in memory, for the embedded single-process mode.

Semantics shared by both (the tests run the same cases against each):

* An entry is *waiting* until a consumer receives it, then *pending* (in flight) until it is acked.
  `consume` hands out waiting entries only; a pending entry is never handed out again by `consume`,
  only by `reclaim`, once it has been idle (not acked) for `min_idle_ms` -- its consumer is presumed dead.
* `ack` removes the entry for good. Acked entries do not stay in the queue, so the bound only ever
  counts frames that still need work.
* `length` is the number of entries the queue stores: waiting plus in-flight ones. It is what the
  bound caps: publishing to a full queue first removes the oldest stored entry.
* `dropped` counts frames lost without being processed: waiting entries removed by the bound, and
  in-flight entries removed by the bound whose consumer then died (found by `reclaim`). An in-flight
  entry removed by the bound is *not* a loss while its consumer lives: it still holds the frame and can
  ack it. So every published frame ends up acked or dropped, never both (short of a consumer that was
  presumed dead but was only slow).
* `pending` counts delivered, unacked entries, including in-flight ones the bound already removed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol

from workers.messages import FrameMessage

DEFAULT_MAXLEN = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    """One entry handed to a consumer. `deliveries` is 1 the first time, 2 after one reclaim, ..."""

    entry_id: str
    message: FrameMessage
    deliveries: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    length: int  # entries stored: waiting + in flight (not yet removed by the bound); capped by maxlen
    pending: int  # delivered, not yet acked (including in-flight entries the bound already removed)
    dropped: int  # frames lost unprocessed to the bound (see module docstring); cumulative
    published: int  # cumulative
    maxlen: int


class FrameQueue(Protocol):
    async def publish(self, message: FrameMessage) -> str:
        """Add a frame; returns its entry id. A full queue drops (and counts) its oldest entry first."""
        ...

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` waiting entries for `consumer`; when none, wait up to `block_ms` (0: do not wait)."""
        ...

    async def ack(self, entry_ids: list[str]) -> None:
        """Mark entries done and remove them. Call only after their results are stored."""
        ...

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        """Take over up to `count` entries left unacked for at least `min_idle_ms`, by any consumer.

        Like XAUTOCLAIM this includes the caller's own idle entries (a worker restarted under the same
        name recovers what it held). In-flight entries the bound already removed are counted as dropped.
        """
        ...

    async def length(self) -> int:
        """Entries stored: waiting + in flight. Same as `stats().length`."""
        ...

    async def stats(self) -> QueueStats: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _InFlight:
    consumer: str
    delivered_at: float  # time.monotonic(); idle time is measured from the last delivery, as in Redis
    deliveries: int


class InProcessQueue:
    """`FrameQueue` in memory, for one process and one event loop (not thread-safe).

    Mirrors the Redis layout on purpose so both behave alike: `_entries` is "the stream" (waiting and
    in-flight entries, oldest first, capped by maxlen), `_waiting` the ids not yet delivered (what
    XREADGROUP `>` would return), and `_pending` the PEL.
    """

    def __init__(self, maxlen: int = DEFAULT_MAXLEN) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self._entries: OrderedDict[str, FrameMessage] = OrderedDict()
        self._waiting: deque[str] = deque()
        self._pending: dict[str, _InFlight] = {}  # insertion order = id order, like the PEL
        self._cond = asyncio.Condition()
        self._last_ms = 0
        self._seq = 0
        self._dropped = 0
        self._published = 0
        self._closed = False

    async def publish(self, message: FrameMessage) -> str:
        if self._closed:
            raise RuntimeError("queue is closed")
        async with self._cond:
            while len(self._entries) >= self.maxlen:
                self._trim_oldest()
            entry_id = self._next_id()
            self._entries[entry_id] = message
            self._waiting.append(entry_id)
            self._published += 1
            self._cond.notify_all()  # every blocked consumer re-checks; each takes what is left
        return entry_id

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(block_ms, 0) / 1000
        async with self._cond:
            while not self._waiting:
                remaining = deadline - loop.time()
                if self._closed or remaining <= 0:
                    return []
                try:
                    async with asyncio.timeout(remaining):
                        await self._cond.wait()
                except TimeoutError:
                    return []
            return self._deliver(consumer, count)

    async def ack(self, entry_ids: list[str]) -> None:
        for entry_id in entry_ids:
            # Only pending entries can be acked (the Redis script checks XACK's answer the same way).
            if self._pending.pop(entry_id, None) is not None:
                self._entries.pop(entry_id, None)

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        now = time.monotonic()
        claimed: list[Delivery] = []
        for entry_id, inflight in list(self._pending.items()):
            if len(claimed) >= count:
                break
            if (now - inflight.delivered_at) * 1000 < min_idle_ms:
                continue
            message = self._entries.get(entry_id)
            if message is None:
                # The bound removed it while its consumer held it, and that consumer is gone: lost.
                del self._pending[entry_id]
                self._dropped += 1
                continue
            inflight.consumer = consumer
            inflight.delivered_at = now
            inflight.deliveries += 1
            claimed.append(Delivery(entry_id, message, inflight.deliveries))
        return claimed

    async def length(self) -> int:
        return len(self._entries)

    async def stats(self) -> QueueStats:
        return QueueStats(
            length=len(self._entries),
            pending=len(self._pending),
            dropped=self._dropped,
            published=self._published,
            maxlen=self.maxlen,
        )

    async def close(self) -> None:
        self._closed = True
        async with self._cond:
            self._cond.notify_all()  # blocked consumers return [] instead of waiting out block_ms

    def _next_id(self) -> str:
        # "<ms>-<seq>" like Redis: strictly increasing even if the wall clock stalls or steps back.
        ms = time.time_ns() // 1_000_000
        if ms > self._last_ms:
            self._last_ms, self._seq = ms, 0
        else:
            self._seq += 1
        return f"{self._last_ms}-{self._seq}"

    def _trim_oldest(self) -> None:
        entry_id, _ = self._entries.popitem(last=False)
        # Delivery is in id order, so the oldest stored entry is waiting only if it heads `_waiting`.
        if self._waiting and self._waiting[0] == entry_id:
            self._waiting.popleft()
            self._dropped += 1
        # Otherwise it is in flight: its consumer may still ack it, so it is not counted here
        # (reclaim counts it if that consumer dies).

    def _deliver(self, consumer: str, count: int) -> list[Delivery]:
        now = time.monotonic()
        out: list[Delivery] = []
        while self._waiting and len(out) < count:
            entry_id = self._waiting.popleft()
            self._pending[entry_id] = _InFlight(consumer, now, 1)
            out.append(Delivery(entry_id, self._entries[entry_id], 1))
        return out


def make_queue(redis_url: str | None, maxlen: int = DEFAULT_MAXLEN) -> FrameQueue:
    """A Redis-backed queue for `redis_url`, or an in-process one when it is None/empty (embedded mode)."""
    if not redis_url:
        return InProcessQueue(maxlen)
    # Imported here so the embedded mode never needs a Redis client, and to avoid a circular import.
    from redis.asyncio import Redis

    from workers.redis_queue import RedisFrameQueue

    return RedisFrameQueue(Redis.from_url(redis_url), maxlen=maxlen, close_client=True)
