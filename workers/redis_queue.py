"""`FrameQueue` on a Redis stream with one consumer group (semantics: see workers/queue.py).

Layout, for stream `S` (default "platestream:frames") and group `G` (default "workers"):

* `S`: the stream. It holds waiting and in-flight entries only: `ack` does XACK *and* XDEL, because an
  acked entry left in the stream would count against MAXLEN, make XLEN meaningless as a backlog
  measure, and get "trimmed" later as if it were a dropped frame. This design assumes `S` has one
  consumer group (XDEL would pull entries from under any other group).
* `S:dropped`, `S:published`: counters, updated in the same Lua script as the XADD so they are exact.

The client must return bytes (`decode_responses=False`, the default) since entries carry JPEG bytes,
and speak RESP2 (the redis-py default), whose replies this module parses. The keys are not hash-tagged:
this targets a single Redis server, not a cluster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from workers.messages import FrameMessage
from workers.queue import DEFAULT_MAXLEN, Delivery, QueueStats

log = logging.getLogger(__name__)

T = TypeVar("T")

# One XREADGROUP blocks at most this long: redis-py's default socket timeout is 5 s, and a longer BLOCK
# would read as a dead connection. Waking on new entries is immediate whatever this is.
_MAX_BLOCK_MS = 1000

# XLEN check + exact MAXLEN trim + counters in one atomic step, so concurrent publishers cannot
# miscount. Only trimmed entries the group has not been given yet are counted here: an entry at or before
# the group's last-delivered-id is in flight (acked ones are XDEL'd), and its consumer may still ack it;
# if that consumer died instead, `reclaim` counts it when XAUTOCLAIM reports it deleted.
# KEYS: stream, dropped counter, published counter. ARGV: group, maxlen, field, value, field, value, ...
_PUBLISH_LUA = """
local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local stream, maxlen = KEYS[1], tonumber(ARGV[2])
local over = redis.call('XLEN', stream) + 1 - maxlen
local dropped = 0
if over > 0 then
  local last_ms, last_seq = -1, -1  -- no group yet: nothing was delivered
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == ARGV[1] then last_ms, last_seq = parse_id(fields['last-delivered-id']) end
  end
  for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', over)) do
    local ms, seq = parse_id(entry[1])
    if ms > last_ms or (ms == last_ms and seq > last_seq) then dropped = dropped + 1 end
  end
end
local id = redis.call('XADD', stream, 'MAXLEN', maxlen, '*', unpack(ARGV, 3))
if dropped > 0 then redis.call('INCRBY', KEYS[2], dropped) end
redis.call('INCR', KEYS[3])
return id
"""

# XACK, then XDEL only what XACK confirmed: acking an id that is not pending (already acked, never
# delivered) must not delete a waiting entry. KEYS: stream. ARGV: group, ids...
_ACK_LUA = """
local acked = 0
for i = 2, #ARGV do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    redis.call('XDEL', KEYS[1], ARGV[i])
    acked = acked + 1
  end
end
return acked
"""

Entry = tuple[bytes, dict[bytes, bytes]]


class RedisFrameQueue:
    def __init__(
        self,
        redis: Redis,
        stream: str = "platestream:frames",
        group: str = "workers",
        maxlen: int = DEFAULT_MAXLEN,
        *,
        close_client: bool = False,  # make_queue created the client, so close() closes it
        max_concurrent_publishes: int = 16,
    ) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        options = redis.connection_pool.connection_kwargs
        if options.get("decode_responses"):
            raise ValueError("the Redis client must use decode_responses=False: entries carry JPEG bytes")
        if options.get("protocol") not in (None, 2, "2"):
            raise ValueError("the Redis client must speak RESP2 (protocol=2, the default)")
        self._redis = redis
        self._stream = stream
        self._group = group
        self.maxlen = maxlen
        self._dropped_key = f"{stream}:dropped"
        self._published_key = f"{stream}:published"
        self._close_client = close_client
        self._group_ready = False
        # Each concurrent command takes a pooled connection, and redis-py raises MaxConnectionsError past the
        # pool's limit (100 by default) instead of waiting: a burst of publishes from many camera tasks
        # waits here for its turn instead.
        self._publish_slots = asyncio.Semaphore(max_concurrent_publishes)
        self._publish_script = redis.register_script(_PUBLISH_LUA)
        self._ack_script = redis.register_script(_ACK_LUA)

    async def publish(self, message: FrameMessage) -> str:
        args: list[Any] = [self._group, self.maxlen]
        for key, value in message.to_fields().items():
            args += [key, value]
        keys = [self._stream, self._dropped_key, self._published_key]
        async with self._publish_slots:
            entry_id = await self._call(self._publish_script, keys, args)
        return _text(entry_id)

    async def consume(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = min(remaining_ms, _MAX_BLOCK_MS) if remaining_ms > 0 else None  # None: no BLOCK at all
            reply = await self._call(self._redis.xreadgroup, self._group, consumer, {self._stream: ">"}, count, block)
            entries = _stream_entries(reply)
            if entries or block is None:
                # XREADGROUP '>' only ever returns entries never delivered before.
                return await self._decode(entries, [1] * len(entries))

    async def ack(self, entry_ids: list[str]) -> None:
        if entry_ids:
            await self._call(self._ack_script, [self._stream], [self._group, *entry_ids])

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        claimed: list[Entry] = []
        deleted: list[bytes] = []
        cursor: bytes | str = "0-0"
        while len(claimed) < count:
            reply = await self._call(
                self._redis.xautoclaim,
                self._stream,
                self._group,
                consumer,
                min_idle_ms,
                cursor,
                count - len(claimed),
            )
            cursor = reply[0]
            claimed += [entry for entry in reply[1] if entry[1]]
            deleted += reply[2] if len(reply) > 2 else []  # Redis >= 7 reports trimmed pending entries
            if _text(cursor) == "0-0":  # scanned the whole PEL
                break
        if deleted:
            await self._count_dropped(deleted)
        return await self._decode(*await self._with_delivery_counts(claimed))

    async def length(self) -> int:
        return int(await self._redis.xlen(self._stream))

    async def stats(self) -> QueueStats:
        async def read() -> list[Any]:
            # MULTI/EXEC so the four numbers describe the same moment.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xlen(self._stream)
                pipe.xpending(self._stream, self._group)
                pipe.get(self._dropped_key)
                pipe.get(self._published_key)
                return list(await pipe.execute())

        length, pending, dropped, published = await self._call(read)
        return QueueStats(
            length=int(length),
            pending=int(pending["pending"]),
            dropped=int(dropped or 0),
            published=int(published or 0),
            maxlen=self.maxlen,
        )

    async def close(self) -> None:
        if self._close_client:
            await self._redis.aclose()

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a command, creating the group first; recreate it if the stream was deleted meanwhile."""
        if not self._group_ready:
            await self._ensure_group()
        try:
            return await fn(*args)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._ensure_group()  # the stream key was deleted (FLUSHALL, manual cleanup)
            return await fn(*args)

    async def _ensure_group(self) -> None:
        try:
            # id "0", not "$": frames published before the first worker started still get processed.
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _with_delivery_counts(self, claimed: list[Entry]) -> tuple[list[Entry], list[int]]:
        """XAUTOCLAIM bumps the delivery counter but does not return it: read it back from XPENDING."""
        if not claimed:
            return [], []
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id, _ in claimed:
                pipe.xpending_range(self._stream, self._group, min=entry_id, max=entry_id, count=1)
            replies = await pipe.execute()
        kept: list[Entry] = []
        counts: list[int] = []
        for entry, reply in zip(claimed, replies, strict=True):
            if reply:  # empty: acked by its old (merely slow) consumer in between, so nothing to do
                kept.append(entry)
                counts.append(int(reply[0]["times_delivered"]))
        return kept, counts

    async def _decode(self, entries: list[Entry], counts: list[int]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        poison: list[bytes] = []
        for (entry_id, fields), count in zip(entries, counts, strict=True):
            try:
                deliveries.append(Delivery(_text(entry_id), FrameMessage.from_fields(fields), count))
            except (KeyError, ValueError) as exc:
                # An entry no worker can read would otherwise be reclaimed and fail forever.
                log.warning("discarding malformed frame entry %s: %s", _text(entry_id), exc)
                poison.append(entry_id)
        if poison:
            await self.ack([_text(entry_id) for entry_id in poison])
            await self._count_dropped(poison)
        return deliveries

    async def _count_dropped(self, entry_ids: list[bytes]) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            # Redis 7 already removed deleted entries from the PEL; the XACK is for older servers.
            pipe.xack(self._stream, self._group, *entry_ids)
            pipe.incrby(self._dropped_key, len(entry_ids))
            await pipe.execute()


def _stream_entries(reply: Any) -> list[Entry]:
    """XREADGROUP's RESP2 reply, [[stream, [(id, fields), ...]]] or None on timeout, as one entry list."""
    return [entry for _, entries in reply or [] for entry in entries]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
