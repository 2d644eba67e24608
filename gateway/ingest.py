"""Camera ingest: one PyAV reader thread per camera -> sampled frames as JPEG -> the frame queue.

Every packet is decoded (H.264 needs it, and it keeps the reader in step with the source), but only frames
picked by the sampler at the camera's `fps` are converted and JPEG-encoded. Files are paced at their own
frame rate, like a live camera; live sources are read as fast as they come. A dropped connection is retried
with exponential backoff, capped at `reconnect_max_s`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import av
import cv2

from gateway.metrics import Metrics
from workers.messages import FrameMessage, utcnow

log = logging.getLogger(__name__)
Publish = Callable[[FrameMessage], Coroutine[Any, Any, object]]


@dataclass
class CameraStatus:
    connected: bool = False
    last_frame_at: object = None  # datetime of the last frame sent to the queue
    measured_fps: float | None = None
    last_error: str | None = None
    frames_sent: int = 0


class Sampler:
    """Keeps frames `1 / fps` apart, measured on the clock it is given."""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.next_at: float | None = None

    def take(self, now: float) -> bool:
        if self.next_at is None or now >= self.next_at:
            # Schedule from the ideal time, not `now`, so jitter does not lower the rate; resync after a gap.
            base = now if self.next_at is None or now - self.next_at > self.interval else self.next_at
            self.next_at = base + self.interval
            return True
        return False


class RateMeter:
    """Exponential moving average of an event rate."""

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha, self.last, self.rate = alpha, 0.0, 0.0

    def tick(self, now: float) -> float:
        if self.last:
            instant = 1.0 / max(now - self.last, 1e-6)
            self.rate = instant if self.rate == 0 else self.alpha * instant + (1 - self.alpha) * self.rate
        self.last = now
        return self.rate


def encode_jpeg(frame: av.VideoFrame, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def redact(text: str, url: str) -> str:
    """FFmpeg errors quote the URL; camera passwords must not reach the API, logs or the database."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def open_options(url: str) -> dict[str, str]:
    if url.startswith(("rtsp://", "rtsps://")):
        return {"rtsp_transport": "tcp", "timeout": "5000000"}  # microseconds without data before giving up
    return {}


class CameraReader:
    def __init__(self, camera_id: int, url: str, fps: float, publish: Publish, loop: asyncio.AbstractEventLoop,
                 metrics: Metrics, jpeg_quality: int = 90, reconnect_max_s: float = 8.0) -> None:
        self.camera_id, self.url, self.fps = camera_id, url, fps
        self.publish, self.loop, self.metrics = publish, loop, metrics
        self.jpeg_quality, self.reconnect_max_s = jpeg_quality, reconnect_max_s
        self.status = CameraStatus()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera_id}", daemon=True)
        self._rate = RateMeter()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._read_stream()
                backoff = 0.5  # the source ended cleanly (a file): start again at once
            except Exception as exc:  # every failure of a camera is reported and retried, never fatal
                self.status.connected = False
                self.status.last_error = redact(f"{type(exc).__name__}: {exc}", self.url)
                self.metrics.errors.labels(stage="ingest").inc()
                log.warning("camera %s: %s; retrying in %.1fs", self.camera_id, self.status.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.reconnect_max_s)

    def _read_stream(self) -> None:
        with av.open(self.url, options=open_options(self.url), timeout=(10.0, 5.0)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            self.status.connected, self.status.last_error = True, None
            paced = container.duration is not None  # files have a duration; live streams do not
            sampler, started, first_pts = Sampler(self.fps), time.monotonic(), None
            for frame in container.decode(stream):
                if self._stop.is_set():
                    return
                if paced and frame.time is not None:
                    first_pts = frame.time if first_pts is None else first_pts
                    delay = started + (frame.time - first_pts) - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                now = time.monotonic()
                if sampler.take(now):
                    self._send(frame, now)

    def _send(self, frame: av.VideoFrame, now: float) -> None:
        t0 = time.perf_counter()
        jpeg = encode_jpeg(frame, self.jpeg_quality)
        self.metrics.decode_seconds.observe(time.perf_counter() - t0)
        message = FrameMessage(jpeg=jpeg, camera_id=self.camera_id, captured_at=utcnow())
        asyncio.run_coroutine_threadsafe(self.publish(message), self.loop).result(timeout=10)
        self.status.frames_sent += 1
        self.status.last_frame_at = message.captured_at
        rate = self._rate.tick(now)  # known from the second frame on
        self.status.measured_fps = round(rate, 2) if rate else None
        self.metrics.camera_fps.labels(camera=str(self.camera_id)).set(rate)
