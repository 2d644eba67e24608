"""The worker loop: dynamic batches from the queue -> pipeline -> stored reads + crops -> feed -> ack,
then vehicle passes: reads go to their camera's tracker, and closed tracks become events (workers/events.py).

A frame is acknowledged only after its reads are committed, so a worker killed mid-batch leaves its frames
pending, and another worker reclaims them (XAUTOCLAIM) once they have been idle for `reclaim_idle_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.feed import Feed
from gateway.metrics import Metrics
from pipeline.decode import decode_image
from pipeline.errors import ImageError
from pipeline.reader import PlateReader
from pipeline.records import Frame, FrameResult
from storage.crops import save_crop
from storage.models import Read
from storage.schemas import read_payload
from workers.batching import BatchPolicy, Reclaimer, collect_batch
from workers.camera_filters import CameraFilters
from workers.events import TrackerRegistry, store_events
from workers.messages import FrameMessage, ReadRecord, utcnow
from workers.queue import Delivery, FrameQueue

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 5.0  # longest pause after a failed batch (Redis or database away)


@dataclass(frozen=True)
class WorkerContext:
    """Everything a worker needs, built once by the process that runs it."""

    queue: FrameQueue
    reader: PlateReader
    sessions: async_sessionmaker[AsyncSession]
    feed: Feed
    metrics: Metrics
    data_dir: Path
    max_pixels: int
    tracks: TrackerRegistry | None = None  # shared by the process's worker tasks; None: no events


def crop_jpeg(crop: object) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])  # type: ignore[call-overload]
    return encoded.tobytes() if ok else b""


class Worker:
    def __init__(self, name: str, context: WorkerContext, policy: BatchPolicy) -> None:
        self.name, self.context, self.policy = name, context, policy
        self.batches = 0
        self.reclaimer = Reclaimer(policy)
        self.filters = CameraFilters(context.sessions)  # each camera's zones and minimum plate width

    async def run(self, stop: asyncio.Event) -> None:
        """Process batches until `stop` is set; the batch in hand is always finished and acked first."""
        log.info("worker %s started", self.name)
        backoff = 0.0
        while not stop.is_set():
            try:
                await self.step(stop)
                backoff = 0.0
            except Exception:
                # Redis or the database is away (restart, outage): the batch in hand stays unacked, so it is
                # reclaimed and processed again once they are back. Never let that end the worker.
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_S)
                self.context.metrics.errors.labels(stage="worker").inc()
                log.warning("worker %s: batch failed; retrying in %.1fs", self.name, backoff, exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
        with contextlib.suppress(Exception):  # best effort: the database may be the reason we stop
            await self.flush_events(everything=True)  # passes still open end with the worker
        log.info("worker %s stopped after %d batches", self.name, self.batches)

    async def step(self, stop: asyncio.Event) -> None:
        """One iteration: a batch (if any) processed and acked, then closed vehicle passes stored."""
        deliveries = await collect_batch(self.context.queue, self.name, self.policy, stop, self.reclaimer)
        if deliveries:
            reclaimed = sum(d.deliveries > 1 for d in deliveries)
            if reclaimed:
                log.info("worker %s reclaimed %d frame(s) left pending by another worker", self.name, reclaimed)
                if reclaimed == len(deliveries) == self.policy.max_batch:
                    self.reclaimer.last = 0.0  # a full batch of reclaims: more may be waiting, take them next
            await self.process(deliveries)
        await self.flush_events()  # each iteration: an idle worker wakes at least once a second

    async def flush_events(self, everything: bool = False) -> None:
        """Store an event for every closed track (all open ones when `everything`)."""
        tracks = self.context.tracks
        if tracks is None:
            return
        closed = tracks.close_all() if everything else tracks.close_idle()
        if closed:
            ctx = self.context
            await store_events(closed, ctx.reader.region, ctx.sessions, ctx.feed, ctx.metrics)

    async def process(self, deliveries: list[Delivery]) -> None:
        ctx = self.context
        now = utcnow()
        waits = [max(0.0, (now - d.message.enqueued_at).total_seconds()) for d in deliveries]
        for waited in waits:
            ctx.metrics.queue_wait_seconds.observe(waited)
        frames, messages = self.decode(deliveries)
        results: list[FrameResult] = []
        if frames:
            # Frames of uploaded videos (job_id) wait by design and nobody watches them live: always read in full.
            live = all(m.job_id is None for m in messages)
            quick = live and self.policy.reads_quickly(max(waits))
            results, times = await asyncio.to_thread(ctx.reader.read_timed, frames, quick)
            if quick:
                ctx.metrics.frames_read_quickly.inc(len(frames))
            ctx.metrics.detect_seconds.observe(times.detect_s)
            ctx.metrics.recognize_seconds.observe(times.recognize_s)
            results = await self.filters.apply(messages, results)  # before storing: ignored reads leave no trace
        ctx.metrics.batch_size.observe(len(frames))
        rows = await self.store(messages, results)
        await ctx.queue.ack([d.entry_id for d in deliveries])  # only now: the reads are committed
        if ctx.tracks is not None:
            ctx.tracks.observe(messages, rows)  # frames without plates advance the camera's clock too
        ctx.metrics.frames_processed.inc(len(frames))
        self.batches += 1

    def decode(self, deliveries: list[Delivery]) -> tuple[list[Frame], list[FrameMessage]]:
        frames, messages = [], []
        for d in deliveries:
            try:
                frames.append(decode_image(d.message.jpeg, d.message.frame_id, self.context.max_pixels))
                messages.append(d.message)
            except ImageError:
                # A frame that cannot be decoded will never decode: count it and let it be acked.
                self.context.metrics.errors.labels(stage="decode").inc()
                log.warning("undecodable frame %s from camera %s", d.message.frame_id, d.message.camera_id)
        return frames, messages

    async def store(self, messages: list[FrameMessage], results: list[FrameResult]) -> list[Read]:
        from storage.reads import add_reads

        ctx = self.context
        started = time.perf_counter()
        records = await asyncio.to_thread(self.records_for, messages, results)
        if not records:
            return []
        async with ctx.sessions() as session:
            rows = await add_reads(session, records)
            await session.commit()
            payloads = [read_payload(row) for row in rows]
        ctx.metrics.store_seconds.observe(time.perf_counter() - started)
        ctx.metrics.reads_stored.inc(len(rows))
        done = utcnow()
        for message in messages:
            ctx.metrics.capture_to_result_seconds.observe(max(0.0, (done - message.captured_at).total_seconds()))
        for payload in payloads:
            try:
                await ctx.feed.publish({"type": "read", "read": payload})
            except Exception:  # the reads are stored; a feed outage must not make them be processed twice
                ctx.metrics.errors.labels(stage="feed").inc()
                log.warning("could not publish read %s to the feed", payload.get("id"), exc_info=True)
        return rows

    def records_for(self, messages: list[FrameMessage], results: list[FrameResult]) -> list[ReadRecord]:
        return records_for_frames(self.context.data_dir, messages, results)


def records_for_frames(data_dir: Path, messages: list[FrameMessage], results: list[FrameResult]) -> list[ReadRecord]:
    """ReadRecords for each plate of each frame, with its crop written to the data dir (blocking I/O)."""
    records = []
    for message, result in zip(messages, results, strict=True):
        for read in result.reads:
            crop = crop_jpeg(read.crop) if read.crop is not None else b""
            records.append(ReadRecord(
                plate=read.plate,
                confidence=round(read.confidence, 2),
                candidates=[{"plate": c.plate, "confidence": round(c.confidence, 2),
                             "matches_template": c.matches_template} for c in read.candidates],
                box=read.box.as_xywh(),
                captured_at=message.captured_at,
                camera_id=message.camera_id,
                frame_id=message.frame_id,
                job_id=message.job_id,
                region=read.region,
                detection_confidence=round(read.detection.confidence * 100, 2),
                crop_path=save_crop(data_dir, crop, message.captured_at) if crop else None,
                matches_template=read.template_verdict,
            ))
    return records
