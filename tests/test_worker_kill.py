"""A worker SIGKILLed mid-batch: its frames are reclaimed by another worker, and no accepted frame is lost."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from pipeline.decode import decode_image
from pipeline.reader import PlateReader
from tests.conftest import endtoend_rows
from tests.service_helpers import REDIS_URL, Process, fresh_postgres, wait_until
from workers.messages import FrameMessage
from workers.redis_queue import RedisFrameQueue

pytestmark = pytest.mark.slow
FRAMES = 12


async def publish(stream: str, jpegs: list[bytes]) -> list[str]:
    client = aioredis.Redis.from_url(REDIS_URL)
    queue = RedisFrameQueue(client, stream=stream, maxlen=1000)
    messages = [FrameMessage(jpeg=j, camera_id=None) for j in jpegs]
    for message in messages:
        await queue.publish(message)
    await client.aclose()
    return [m.frame_id for m in messages]


async def queue_state(stream: str) -> tuple[int, int]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        stats = await RedisFrameQueue(client, stream=stream).stats()
        return stats.length, stats.pending
    finally:
        await client.aclose()


async def stored_frames(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return [r["frame_id"] for r in await conn.fetch("SELECT frame_id FROM reads")]
    finally:
        await conn.close()


def test_killed_worker_frames_are_reclaimed(tmp_path: Path, endtoend_dir: Path, service_reader: PlateReader) -> None:
    rows = endtoend_rows(222)[:FRAMES]
    jpegs = [(endtoend_dir / r["file"]).read_bytes() for r in rows]
    with fresh_postgres() as database_url:
        stream = f"platestream:test:kill:{tmp_path.name}"
        env = {"PLATESTREAM_DATABASE_URL": database_url, "PLATESTREAM_REDIS_URL": REDIS_URL,
               "PLATESTREAM_DATA_DIR": str(tmp_path / "data"), "PLATESTREAM_STREAM_KEY": stream,
               "PLATESTREAM_WORKER_BATCH": "4", "PLATESTREAM_RECLAIM_IDLE_MS": "1500", "PLATESTREAM_THREADS": "1",
               # frames wait here by design; they are read in full, as `expected` below reads them
               "PLATESTREAM_WORKER_QUICK_AFTER_MS": "0"}
        try:
            Process(["db", "upgrade"], tmp_path / "db.log", env).proc.wait(120)
            frame_ids = asyncio.run(publish(stream, jpegs))
            doomed = Process(["worker", "--name", "doomed"], tmp_path / "doomed.log", env)
            wait_until(lambda: asyncio.run(queue_state(stream))[1] > 0, timeout=90, interval=0.05)
            doomed.stop(signal.SIGKILL)  # mid-batch: frames delivered to it and not yet acked
            length, pending = asyncio.run(queue_state(stream))
            assert pending > 0 and length > 0

            rescuer = Process(["worker", "--name", "rescuer"], tmp_path / "rescuer.log", env)
            try:
                wait_until(lambda: asyncio.run(queue_state(stream)) == (0, 0), timeout=240, interval=0.5)
            finally:
                rescuer.stop()
            # The rescuer's worker tasks (one per core) share the reclaim between them.
            reclaimed = [int(n) for n in re.findall(r"reclaimed (\d+) frame\(s\)", rescuer.output())]
            assert sum(reclaimed) == pending, rescuer.output()

            stored = set(asyncio.run(stored_frames(database_url)))
            assert stored <= set(frame_ids)
            # Every frame in which the same pipeline reads a plate has its read stored: none was lost.
            expected = {fid for fid, jpeg in zip(frame_ids, jpegs, strict=True)
                        if service_reader.read([decode_image(jpeg)])[0].reads}
            assert expected <= stored, f"lost frames: {expected - stored}"
            assert expected, "the test frames must contain readable plates"
        finally:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            client.delete(stream, f"{stream}:dropped", f"{stream}:published")
            client.close()
