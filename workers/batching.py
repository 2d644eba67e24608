"""Dynamic batching: take what is waiting, up to a batch, waiting at most `max_wait_ms` to fill it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from workers.queue import Delivery, FrameQueue

IDLE_BLOCK_MS = 1000  # how long an idle worker blocks on the queue before checking for shutdown and reclaims


@dataclass(frozen=True)
class BatchPolicy:
    max_batch: int = 8
    max_wait_ms: int = 50
    reclaim_idle_ms: int = 30_000
    # A batch of live frames whose oldest waited longer than this in the queue is read quickly (pipeline.reader,
    # `quick`) until the worker catches up: on hardware too slow for the cameras, latency stays bounded instead of
    # growing with the backlog. 0 = never.
    quick_after_ms: int = 0

    def reads_quickly(self, waited_s: float) -> bool:
        return self.quick_after_ms > 0 and waited_s * 1000 > self.quick_after_ms


class Reclaimer:
    """Reclaims frames left pending by dead workers, at most twice per idle period."""

    def __init__(self, policy: BatchPolicy) -> None:
        self.policy = policy
        self.last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.policy.reclaim_idle_ms / 2000


async def collect_batch(queue: FrameQueue, consumer: str, policy: BatchPolicy, stop: asyncio.Event,
                        reclaimer: Reclaimer | None = None) -> list[Delivery]:
    """Reclaimed frames first (they are the oldest), then new ones: the first frame opens a window of
    `max_wait_ms`; the batch closes when full or when the window ends, whichever comes first."""
    batch: list[Delivery] = []
    if reclaimer is not None and reclaimer.due():
        reclaimer.last = time.monotonic()
        batch = await queue.reclaim(consumer, policy.reclaim_idle_ms, policy.max_batch)
        if batch:
            return batch
    batch = await queue.consume(consumer, policy.max_batch, IDLE_BLOCK_MS)
    deadline = time.monotonic() + policy.max_wait_ms / 1000
    while batch and len(batch) < policy.max_batch and not stop.is_set():
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            break
        batch += await queue.consume(consumer, policy.max_batch - len(batch), left_ms)
    return batch
