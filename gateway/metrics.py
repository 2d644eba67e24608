"""Prometheus metrics of the service, in one registry per app (no globals created at import)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class Metrics:
    registry: CollectorRegistry
    decode_seconds: Histogram
    queue_wait_seconds: Histogram
    batch_size: Histogram
    detect_seconds: Histogram
    recognize_seconds: Histogram
    store_seconds: Histogram
    capture_to_result_seconds: Histogram
    stream_length: Gauge
    camera_fps: Gauge
    frames_dropped: Counter
    frames_processed: Counter
    frames_read_quickly: Counter
    reads_stored: Counter
    events_stored: Counter
    errors: Counter
    dropped_seen: int = 0

    def sync_dropped(self, total: int) -> None:
        """The queue counts drops (in Redis, across processes); the counter follows that total."""
        if total > self.dropped_seen:
            self.frames_dropped.inc(total - self.dropped_seen)
            self.dropped_seen = total


def create_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    registry = registry or CollectorRegistry()

    def hist(name: str, doc: str, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> Histogram:
        return Histogram(f"platestream_{name}", doc, registry=registry, buckets=buckets)

    return Metrics(
        registry=registry,
        decode_seconds=hist("decode_seconds", "Camera frame decode + JPEG encode time"),
        queue_wait_seconds=hist("queue_wait_seconds", "Time frames wait in the queue"),
        batch_size=hist("batch_size", "Frames per worker batch", BATCH_BUCKETS),
        detect_seconds=hist("detect_seconds", "Detector time per batch"),
        recognize_seconds=hist("recognize_seconds", "Recognizer time per batch"),
        store_seconds=hist("store_seconds", "Database + crop write time per batch"),
        capture_to_result_seconds=hist("capture_to_result_seconds", "Frame capture to stored read"),
        stream_length=Gauge("platestream_stream_length", "Frames waiting in the queue", registry=registry),
        camera_fps=Gauge("platestream_camera_fps", "Measured analysed fps per camera", ["camera"], registry=registry),
        frames_dropped=Counter("platestream_frames_dropped", "Frames dropped by the queue bound", registry=registry),
        frames_processed=Counter("platestream_frames_processed", "Frames analysed", registry=registry),
        frames_read_quickly=Counter("platestream_frames_read_quickly",
                                    "Frames read quickly (no other views or second reader): the worker was behind",
                                    registry=registry),
        reads_stored=Counter("platestream_reads_stored", "Plate reads stored", registry=registry),
        events_stored=Counter("platestream_events_stored", "Vehicle passes (voted events) stored", registry=registry),
        errors=Counter("platestream_errors", "Errors per stage", ["stage"], registry=registry),
    )
