"""Offline video jobs (`POST /v1/videos`): decode an uploaded file, sample it, read plates, store the reads.

With Redis the job runs on an RQ worker (`platestream rq-worker`); in embedded mode on a thread of the
service. Either way it is the same function, and the job row records its progress and outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import av

from pipeline.reader import PlateReader
from pipeline.records import Frame
from platestream.settings import ServiceSettings
from workers.messages import FrameMessage, utcnow

log = logging.getLogger(__name__)


def sampled_frames(path: Path, fps: float) -> Iterator[tuple[Frame, float]]:
    """Frames `1 / fps` apart in video time, as (frame, seconds from the start)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_t = 0.0
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-6 >= next_t:
                next_t = t + 1.0 / fps
                yield Frame(frame.to_ndarray(format="rgb24"), source=f"{path.name}@{t:.2f}s"), t


def next_batch(frames: Iterator[tuple[Frame, float]], size: int) -> list[tuple[Frame, float]]:
    return [item for _, item in zip(range(size), frames, strict=False)]


async def run_video_job(job_id: str, path: Path, settings: ServiceSettings, reader: PlateReader) -> None:
    from storage.db import make_engine, make_sessionmaker
    from storage.reads import add_reads
    from storage.repository import add_video_job_progress, update_video_job
    from workers.worker import records_for_frames

    engine = make_engine(settings.resolved_database_url())
    sessions = make_sessionmaker(engine)
    started = utcnow()
    try:
        async with sessions.begin() as session:
            await update_video_job(session, job_id, status="running")
        frames = iter(sampled_frames(path, settings.video_fps))
        while True:
            batch = await asyncio.to_thread(next_batch, frames, settings.resolved_worker_batch())
            if not batch:
                break
            results = await asyncio.to_thread(reader.read, [f for f, _ in batch])
            messages = [FrameMessage(jpeg=b"", job_id=job_id, captured_at=started + timedelta(seconds=t))
                        for _, t in batch]
            records = await asyncio.to_thread(records_for_frames, settings.data_dir, messages, results)
            async with sessions.begin() as session:
                await add_reads(session, records)
                await add_video_job_progress(session, job_id, frames=len(batch), reads=len(records))
        async with sessions.begin() as session:
            await update_video_job(session, job_id, status="done")
    except Exception as exc:
        log.warning("video job %s failed", job_id, exc_info=True)
        async with sessions.begin() as session:
            await update_video_job(session, job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        await engine.dispose()


def process_video(job_id: str, path: str) -> None:
    """RQ entry point: settings come from the worker's environment, like every platestream process."""
    from platestream.commands.common import build_reader

    settings = ServiceSettings()
    reader = build_reader(settings, keep_crops=True)
    asyncio.run(run_video_job(job_id, Path(path), settings, reader))
