"""The frame queue, both implementations against the same cases; the Redis one against a real server.

Redis comes from PLATESTREAM_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). Each test uses its own
stream name and deletes its keys afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from workers.messages import FrameMessage
from workers.queue import Delivery, FrameQueue, InProcessQueue, make_queue
from workers.redis_queue import RedisFrameQueue

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("PLATESTREAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IDLE_MS = 100  # "dead consumer" threshold in the reclaim tests

QueueFactory = Callable[..., Awaitable[FrameQueue]]


def frame(n: int = 0) -> FrameMessage:
    return FrameMessage(jpeg=b"\xff\xd8" + n.to_bytes(4, "big") + b"\xff\xd9", camera_id=n % 3, frame_id=f"f{n:04d}")


async def connect() -> Redis:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # the tests use a real server on purpose; say how to start one
        await client.aclose()
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({exc}); start one with `redis-server --port 6379`")
    return client


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = await connect()
    yield client
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def new_queue(request: pytest.FixtureRequest) -> AsyncIterator[QueueFactory]:
    """A factory: `await new_queue(maxlen=...)`, cleaned up (keys deleted) after the test."""
    queues: list[FrameQueue] = []
    streams: list[str] = []
    client = await connect() if request.param == "redis" else None

    async def factory(maxlen: int = 1000) -> FrameQueue:
        queue: FrameQueue
        if client is None:
            queue = InProcessQueue(maxlen)
        else:
            stream = f"test:frames:{uuid4().hex}"
            streams.append(stream)
            queue = RedisFrameQueue(client, stream=stream, maxlen=maxlen)
        queues.append(queue)
        return queue

    yield factory
    for queue in queues:
        await queue.close()
    if client is not None:
        if streams:
            await client.delete(*[f"{s}{suffix}" for s in streams for suffix in ("", ":dropped", ":published")])
        await client.aclose()


async def publish_all(queue: FrameQueue, messages: list[FrameMessage]) -> list[str]:
    return [await queue.publish(m) for m in messages]


async def drain(queue: FrameQueue, consumer: str = "drain") -> list[Delivery]:
    out: list[Delivery] = []
    while batch := await queue.consume(consumer, 100, 0):
        out += batch
    return out


async def test_round_trip_preserves_every_field(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    camera = FrameMessage(
        jpeg=bytes(range(256)) * 3,  # every byte value, NULs and invalid UTF-8 included
        camera_id=7,
        captured_at=datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
        frame_id="abc123",
        job_id=None,
        enqueued_at=datetime(2024, 5, 1, 12, 30, 16, 1, tzinfo=UTC),
    )
    job = FrameMessage(jpeg=b"", camera_id=None, job_id="job-42")
    ids = await publish_all(queue, [camera, job])
    got = await queue.consume("w1", 10, 0)
    assert [d.entry_id for d in got] == ids
    assert [d.message for d in got] == [camera, job]
    assert [d.deliveries for d in got] == [1, 1]
    ms = [tuple(map(int, i.split("-"))) for i in ids]
    assert ms == sorted(ms) and len(set(ms)) == 2  # "<ms>-<seq>", increasing


async def test_two_consumers_split_the_entries(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    ids = await publish_all(queue, [frame(n) for n in range(10)])
    first = await queue.consume("a", 4, 0)
    second = await queue.consume("b", 100, 0)
    assert len(first) == 4 and len(second) == 6
    assert {d.entry_id for d in first}.isdisjoint(d.entry_id for d in second)
    assert sorted(d.entry_id for d in first + second) == sorted(ids)
    assert (await queue.stats()).pending == 10


async def test_unacked_entries_are_reclaimed_not_redelivered(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await publish_all(queue, [frame(n) for n in range(3)])
    held = await queue.consume("dead", 10, 0)
    assert len(held) == 3
    assert await queue.consume("dead", 10, 50) == []
    assert await queue.consume("alive", 10, 0) == []
    assert await queue.reclaim("alive", 60_000, 10) == []  # not idle long enough yet

    await asyncio.sleep(IDLE_MS * 1.5 / 1000)
    reclaimed = await queue.reclaim("alive", IDLE_MS, 10)
    assert [d.entry_id for d in reclaimed] == [d.entry_id for d in held]
    assert [d.message for d in reclaimed] == [d.message for d in held]
    assert [d.deliveries for d in reclaimed] == [2, 2, 2]
    assert await queue.reclaim("other", 60_000, 10) == []  # the reclaim reset their idle time
    await queue.ack([d.entry_id for d in reclaimed])
    stats = await queue.stats()
    assert (stats.pending, stats.length, stats.dropped) == (0, 0, 0)


async def test_acked_entries_are_not_reclaimed(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await publish_all(queue, [frame(n) for n in range(3)])
    held = await queue.consume("w1", 10, 0)
    await queue.ack([held[0].entry_id, held[1].entry_id])
    assert await queue.length() == 1  # acked entries leave the stream
    await queue.ack([held[0].entry_id])  # acking twice is harmless
    await asyncio.sleep(IDLE_MS * 1.5 / 1000)
    reclaimed = await queue.reclaim("w2", IDLE_MS, 10)
    assert [d.entry_id for d in reclaimed] == [held[2].entry_id]


async def test_reclaim_respects_count(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    await publish_all(queue, [frame(n) for n in range(5)])
    await queue.consume("dead", 10, 0)
    await asyncio.sleep(IDLE_MS * 1.5 / 1000)
    first = await queue.reclaim("w", IDLE_MS, 2)
    await asyncio.sleep(IDLE_MS * 1.5 / 1000)
    rest = await queue.reclaim("w2", IDLE_MS, 10)
    assert len(first) == 2 and len(rest) == 5  # first two were idle again by then
    assert [d.deliveries for d in rest] == [3, 3, 2, 2, 2]


async def test_bound_drops_the_oldest_and_counts_them(new_queue: QueueFactory) -> None:
    queue = await new_queue(maxlen=10)
    messages = [frame(n) for n in range(15)]
    await publish_all(queue, messages)
    stats = await queue.stats()
    assert (stats.length, stats.dropped, stats.published, stats.pending) == (10, 5, 15, 0)
    assert await queue.length() == 10
    assert [d.message for d in await drain(queue)] == messages[5:]


async def test_inflight_entry_trimmed_counts_as_dropped_only_if_its_consumer_dies(new_queue: QueueFactory) -> None:
    queue = await new_queue(maxlen=3)
    await publish_all(queue, [frame(n) for n in range(3)])
    survivor, victim = await queue.consume("alive", 1, 0), await queue.consume("dead", 1, 0)
    await publish_all(queue, [frame(10), frame(11)])  # trims both in-flight entries, not the waiting one
    stats = await queue.stats()
    assert (stats.length, stats.pending, stats.dropped) == (3, 2, 0)

    await queue.ack([survivor[0].entry_id])  # its consumer still had it: processed, not lost
    await asyncio.sleep(IDLE_MS * 1.5 / 1000)
    assert await queue.reclaim("rescuer", IDLE_MS, 10) == []  # victim's entry is gone...
    stats = await queue.stats()
    assert (stats.pending, stats.dropped) == (0, 1)  # ...and counted once
    assert [d.message.frame_id for d in await drain(queue)] == ["f0002", "f0010", "f0011"]
    assert victim[0].message.frame_id == "f0001"


async def test_consume_on_empty_queue_waits_about_block_ms(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    start = time.monotonic()
    assert await queue.consume("w", 10, 200) == []
    elapsed = time.monotonic() - start
    assert 0.1 <= elapsed < 0.2 + 2.0  # sleeps never end early; the slack is for a loaded machine
    start = time.monotonic()
    assert await queue.consume("w", 10, 0) == []  # 0: no wait at all
    assert time.monotonic() - start < 1.0


async def test_blocked_consumer_wakes_on_publish(new_queue: QueueFactory) -> None:
    queue = await new_queue()
    start = time.monotonic()
    waiting = asyncio.create_task(queue.consume("w", 10, 10_000))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    entry_id = await queue.publish(frame(1))
    got = await asyncio.wait_for(waiting, 5)
    assert [d.entry_id for d in got] == [entry_id]
    assert time.monotonic() - start < 5  # woke on the publish, not at the end of block_ms


async def test_concurrent_publishers_lose_nothing(new_queue: QueueFactory) -> None:
    queue = await new_queue(maxlen=50)
    consumed: list[str] = []
    done = asyncio.Event()

    async def worker() -> None:  # consumes and acks while the publishers run
        while not done.is_set() or await queue.length():
            batch = await queue.consume("w", 7, 20)
            await queue.ack([d.entry_id for d in batch])
            consumed.extend(d.entry_id for d in batch)

    task = asyncio.create_task(worker())
    try:
        ids = await asyncio.gather(*(queue.publish(frame(n)) for n in range(200)))
    finally:
        done.set()  # lets the worker finish even if a publish failed
    await asyncio.wait_for(task, 30)
    stats = await queue.stats()
    assert len(set(ids)) == 200 and len(set(consumed)) == len(consumed)
    assert stats.published == 200 == len(consumed) + stats.dropped
    assert (stats.length, stats.pending) == (0, 0)


async def test_concurrent_publishers_without_consumer(new_queue: QueueFactory) -> None:
    queue = await new_queue(maxlen=50)
    await asyncio.gather(*(queue.publish(frame(n)) for n in range(200)))
    stats = await queue.stats()
    assert (stats.published, stats.length, stats.dropped) == (200, 50, 150)
    assert len(await drain(queue)) == 50


async def test_close_wakes_blocked_consumer() -> None:
    queue = InProcessQueue()
    waiting = asyncio.create_task(queue.consume("w", 1, 30_000))
    await asyncio.sleep(0.05)
    await queue.close()
    assert await asyncio.wait_for(waiting, 5) == []
    with pytest.raises(RuntimeError):
        await queue.publish(frame())


async def test_make_queue() -> None:
    memory = make_queue(None, 5)
    assert isinstance(memory, InProcessQueue) and (await memory.stats()).maxlen == 5
    remote = make_queue(REDIS_URL, 7)
    assert isinstance(remote, RedisFrameQueue) and remote.maxlen == 7
    await remote.close()


async def test_redis_queue_recreates_group_after_stream_deleted(redis_client: Redis) -> None:
    stream = f"test:frames:{uuid4().hex}"
    queue = RedisFrameQueue(redis_client, stream=stream)
    try:
        await queue.publish(frame(1))
        await redis_client.delete(stream)  # e.g. FLUSHALL while workers run
        await queue.publish(frame(2))
        assert [d.message.frame_id for d in await queue.consume("w", 10, 0)] == ["f0002"]
    finally:
        await redis_client.delete(stream, f"{stream}:dropped", f"{stream}:published")


async def test_redis_queue_discards_malformed_entries(redis_client: Redis) -> None:
    stream = f"test:frames:{uuid4().hex}"
    queue = RedisFrameQueue(redis_client, stream=stream)
    try:
        await queue.publish(frame(1))
        await redis_client.xadd(stream, {"garbage": "1"})
        got = await queue.consume("w", 10, 0)
        assert [d.message.frame_id for d in got] == ["f0001"]
        stats = await queue.stats()
        assert (stats.length, stats.pending, stats.dropped) == (1, 1, 1)
    finally:
        await redis_client.delete(stream, f"{stream}:dropped", f"{stream}:published")


# Runs in its own OS process: takes 5 entries as consumer "doomed", reports them, then waits to be killed.
CRASHING_WORKER = """
import asyncio, sys
from redis.asyncio import Redis
from workers.redis_queue import RedisFrameQueue

async def main() -> None:
    queue = RedisFrameQueue(Redis.from_url(sys.argv[1]), stream=sys.argv[2], close_client=True)
    got = await queue.consume("doomed", 5, 5000)
    print(" ".join(d.entry_id for d in got), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_worker_killed_before_ack_its_entries_are_reclaimed(redis_client: Redis) -> None:
    stream = f"test:frames:{uuid4().hex}"
    queue = RedisFrameQueue(redis_client, stream=stream)
    proc: asyncio.subprocess.Process | None = None
    try:
        ids = await publish_all(queue, [frame(n) for n in range(5)])
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CRASHING_WORKER, REDIS_URL, stream, cwd=ROOT, stdout=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.decode().split() == ids
        proc.send_signal(signal.SIGKILL)  # no chance to ack or clean up
        assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL

        assert (await queue.stats()).pending == 5
        assert await queue.consume("survivor", 10, 0) == []
        await asyncio.sleep(IDLE_MS * 1.5 / 1000)
        reclaimed = await queue.reclaim("survivor", IDLE_MS, 10)
        assert [d.entry_id for d in reclaimed] == ids
        assert all(d.deliveries == 2 for d in reclaimed)
        await queue.ack([d.entry_id for d in reclaimed])
        stats = await queue.stats()
        assert (stats.pending, stats.length, stats.dropped, stats.published) == (0, 0, 0, 5)
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await redis_client.delete(stream, f"{stream}:dropped", f"{stream}:published")
