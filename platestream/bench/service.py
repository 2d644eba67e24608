"""`platestream bench service`: sustained throughput, capture-to-result latency and frame accounting of the
whole service (RTSP cameras -> gateway -> queue -> workers -> database) under N cameras at F fps.

The run: start everything, wait until every camera delivers and a first frame is processed (engines loaded,
connections open), measure for T seconds, then stop the cameras and let the queue drain, so every published
frame is accounted for: processed, undecodable, dropped by the queue bound, or still queued -- the rest is lost.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from platestream.bench.procs import wait_until
from platestream.bench.report import machine_info, percentile, rounded, table
from platestream.bench.stack import BenchError, Counters, ServiceOptions, ServiceStack


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same path as Ctrl-C, so the ExitStack stops processes and drops keys and databases.
    raise KeyboardInterrupt


def warm_up(stack: ServiceStack) -> None:
    def ready() -> bool:
        stack.check_alive()
        return stack.cameras_streaming() and stack.counters().processed > 0

    try:
        wait_until(ready, timeout=stack.options.startup_timeout, interval=1.0)
    except TimeoutError:
        logs = "\n".join(f"--- {p.log.name}\n{p.output()[-1500:]}" for p in stack.processes)
        raise BenchError(f"no frame processed within {stack.options.startup_timeout:.0f}s\n{logs}") from None


def measure_window(stack: ServiceStack) -> tuple[Counters, Counters]:
    start = stack.counters()
    deadline = start.monotonic + stack.options.seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        stack.check_alive()
    return start, stack.counters()


def drain(stack: ServiceStack) -> tuple[Counters, bool]:
    """Stop ingest, wait for an empty queue, then for two equal readings: between a worker's ack and its
    processed counter there is a moment when a frame is in neither, which must not read as a loss."""
    stack.disable_cameras()
    deadline = time.monotonic() + stack.options.drain_timeout
    last = stack.counters()
    while last.queued and time.monotonic() < deadline:
        time.sleep(0.5)
        last = stack.counters()
    for _ in range(10):
        time.sleep(1.0)
        current = stack.counters()
        if current.totals() == last.totals():
            break
        last = current
    return last, last.queued == 0


def build_report(options: ServiceOptions, start: Counters, end: Counters, final: Counters, drained: bool,
                 latencies: list[float]) -> dict[str, Any]:
    window = end.monotonic - start.monotonic
    lost = final.published - final.processed - final.undecodable - final.dropped - final.queued
    return {
        "kind": "service",
        "mode": options.mode,
        "cameras": options.cameras,
        "fps_per_camera": options.fps,
        "workers": options.workers,
        "tasks_per_worker": options.tasks,
        "seconds": round(window, 3),
        "machine": machine_info(),
        "offered_fps": rounded((end.published - start.published) / window),
        "sustained_fps": rounded((end.processed - start.processed) / window),
        "latency_ms": {
            "source": "reads.created_at - reads.captured_at (frames with a plate read, captured in the window)",
            "reads": len(latencies),
            "p50": rounded(percentile(latencies, 50)),
            "p95": rounded(percentile(latencies, 95)),
            "p99": rounded(percentile(latencies, 99)),
        },
        "frames": {
            "published": final.published,
            "processed": final.processed,
            "undecodable": final.undecodable,
            "dropped": final.dropped,
            "still_queued": final.queued,
            "lost": lost,
            "read_quickly": final.read_quickly,  # see PLATESTREAM_WORKER_QUICK_AFTER_MS
        },
        "drained": drained,
    }


def run_service(options: ServiceOptions) -> dict[str, Any]:
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        with ExitStack() as cleanup:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="platestream-bench-")))
            stack = ServiceStack(options, workdir, cleanup)
            print(f"bench service: starting {options.cameras} camera(s), {options.mode} mode", file=sys.stderr)
            stack.start()
            warm_up(stack)
            print(f"bench service: measuring for {options.seconds:.0f}s", file=sys.stderr)
            start, end = measure_window(stack)
            final, drained = drain(stack)
            latencies = stack.capture_latencies_ms(start.wall, end.wall)
            return build_report(options, start, end, final, drained, latencies)
    finally:
        signal.signal(signal.SIGTERM, previous)


def service_table(report: dict[str, Any]) -> str:
    latency, frames = report["latency_ms"], report["frames"]
    rows: list[list[object]] = [
        ["mode", report["mode"]],
        ["cameras x fps", f"{report['cameras']} x {report['fps_per_camera']:g}"],
        ["workers", report["workers"]],
        ["measured seconds", report["seconds"]],
        ["offered fps (published)", report["offered_fps"]],
        ["sustained fps (processed)", report["sustained_fps"]],
        ["latency p50 / p95 / p99 ms", " / ".join(
            "-" if latency[k] is None else f"{latency[k]:.0f}" for k in ("p50", "p95", "p99"))],
        ["reads measured", latency["reads"]],
        *([f"frames {k.replace('_', ' ')}", v] for k, v in frames.items()),
        ["queue drained", "yes" if report["drained"] else "no"],
    ]
    return table(["figure", "value"], rows)
