"""The processes of `bench service`: RTSP cameras, the service (embedded, or gateway + workers on Redis) and the
counters read from them. Everything started is registered on an ExitStack, so it is undone in reverse order
on success, error and Ctrl-C alike."""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from platestream.bench.media import datasets_dir, make_cars_video, rtsp_server_command
from platestream.bench.procs import Process, free_port, fresh_postgres
from workers.queue import QueueStats

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
VIDEO_CARS = 6
CAR_SECONDS = 2  # each car in view this long, then the next one


class BenchError(Exception):
    """The stack could not be started or measured; the message carries the relevant log tail."""


@dataclass(frozen=True)
class ServiceOptions:
    cameras: int = 1
    fps: float = 5.0
    seconds: float = 30.0
    mode: str = "embedded"  # or "redis"
    workers: int = 1
    threads: int | None = None  # PLATESTREAM_THREADS of the service processes; None: inherited
    tasks: int | None = None  # PLATESTREAM_WORKER_TASKS of each worker process (redis mode); None: inherited
    dataset: Path | None = None  # endtoend-us folder the camera video is made from
    startup_timeout: float = 180.0
    drain_timeout: float = 60.0


@dataclass(frozen=True)
class Counters:
    """Cumulative frame counts since the service started, read at `monotonic` / `wall`."""

    monotonic: float
    wall: datetime
    published: int
    processed: int
    dropped: int
    undecodable: int
    queued: int  # stored in the queue: waiting + in flight
    read_quickly: int = 0  # processed with no second looks: the workers were behind (BatchPolicy.quick_after_ms)

    def totals(self) -> tuple[int, ...]:
        return self.published, self.processed, self.dropped, self.undecodable, self.queued


def scrape(url: str) -> dict[str, float]:
    """Prometheus samples summed by name, with `name{stage="x"}` keys kept for the labelled errors counter."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name + (f'{{stage="{sample.labels["stage"]}"}}' if "stage" in sample.labels else "")
            samples[key] = samples.get(key, 0.0) + sample.value
    return samples


class ServiceStack:
    def __init__(self, options: ServiceOptions, workdir: Path, cleanup: ExitStack) -> None:
        self.options, self.workdir, self.cleanup = options, workdir, cleanup
        self.token = secrets.token_urlsafe(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: list[Process] = []
        self.camera_ids: list[int] = []
        self.worker_ports: list[int] = []
        self.stream_key = f"platestream:bench:{uuid.uuid4().hex[:10]}"
        self.redis_url = os.environ.get("PLATESTREAM_REDIS_URL") or DEFAULT_REDIS_URL
        self.database_url = ""

    # ---- start-up -------------------------------------------------------------------------------------------

    def start(self) -> None:
        urls = self.start_cameras()
        if self.options.mode == "redis":
            self.start_redis_service()
        else:
            self.start_embedded_service()
        self.camera_ids = [self.api("POST", "/v1/cameras", {"name": f"bench-{i}", "url": url,
                                                             "fps": self.options.fps})["id"]
                           for i, url in enumerate(urls, start=1)]

    def start_cameras(self) -> list[str]:
        """One real RTSP server per camera, all playing one video long enough for warm-up plus the run."""
        # A camera that reaches the end of the video reconnects, a gap that would distort the figures.
        repeat = math.ceil((self.options.seconds + 60) / (VIDEO_CARS * CAR_SECONDS))
        dataset = self.options.dataset or datasets_dir() / "endtoend-us"
        video, _ = make_cars_video(self.workdir / "cars.mp4", VIDEO_CARS, CAR_SECONDS,
                                   max(10, math.ceil(self.options.fps)), dataset, repeat)
        urls = []
        for i in range(1, self.options.cameras + 1):
            port = free_port()
            server = self.spawn(rtsp_server_command(port, f"/cam{i}", video), f"rtsp-{i}")
            server.wait_for_line("ready", timeout=30)
            urls.append(f"rtsp://127.0.0.1:{port}/cam{i}")
        return urls

    def base_env(self) -> dict[str, str]:
        env = {"PLATESTREAM_API_TOKEN": self.token, "PLATESTREAM_DATA_DIR": str(self.workdir / "data"),
               "PLATESTREAM_HOST": "127.0.0.1", "PLATESTREAM_PORT": str(self.port)}
        if self.options.threads is not None:
            env["PLATESTREAM_THREADS"] = str(self.options.threads)
        if self.options.tasks is not None:
            env["PLATESTREAM_WORKER_TASKS"] = str(self.options.tasks)
        return env

    def start_embedded_service(self) -> None:
        # Empty values override any Redis/Postgres configured in the environment: embedded = in-process + SQLite.
        env = {**self.base_env(), "PLATESTREAM_REDIS_URL": "", "PLATESTREAM_DATABASE_URL": ""}
        self.database_url = f"sqlite+aiosqlite:///{self.workdir / 'data' / 'platestream.db'}"
        run = self.spawn(["run", "--workers", str(self.options.workers)], "run", env)
        run.wait_for_line("Uvicorn running", timeout=self.options.startup_timeout)

    def start_redis_service(self) -> None:
        self.database_url = os.environ.get("PLATESTREAM_DATABASE_URL") or self.cleanup.enter_context(
            fresh_postgres(prefix="platestream_bench"))
        self.cleanup.callback(self.delete_redis_keys)
        env = {**self.base_env(), "PLATESTREAM_REDIS_URL": self.redis_url, "PLATESTREAM_DATABASE_URL":
               self.database_url, "PLATESTREAM_STREAM_KEY": self.stream_key,
               "PLATESTREAM_FEED_CHANNEL": f"{self.stream_key}:feed"}
        gateway = self.spawn(["gateway"], "gateway", env)
        gateway.wait_for_line("Uvicorn running", timeout=self.options.startup_timeout)  # migrations done
        workers = []
        for i in range(1, self.options.workers + 1):
            self.worker_ports.append(free_port())
            workers.append(self.spawn(["worker", "--name", f"bench-w{i}", "--metrics-port",
                                       str(self.worker_ports[-1])], f"worker-{i}", env))
        for i, worker in enumerate(workers, start=1):
            worker.wait_for_line(f"worker bench-w{i} started", timeout=self.options.startup_timeout)

    def spawn(self, args: list[str], name: str, env: dict[str, str] | None = None) -> Process:
        process = Process(args, self.workdir / f"{name}.log", env)
        self.processes.append(process)
        self.cleanup.callback(process.stop)
        return process

    # ---- during the run -------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise BenchError(f"{process.log.name} exited ({process.proc.returncode}):\n{process.output()}")

    def cameras_streaming(self) -> bool:
        return all(self.api("GET", f"/v1/cameras/{i}").get("last_frame_at") for i in self.camera_ids)

    def disable_cameras(self) -> None:
        for camera_id in self.camera_ids:
            self.api("PATCH", f"/v1/cameras/{camera_id}", {"enabled": False})

    def counters(self) -> Counters:
        gateway = scrape(f"{self.base}/metrics")  # in embedded mode also syncs dropped and the queue length
        now, wall = time.monotonic(), datetime.now(UTC)
        if self.options.mode == "redis":
            stats = asyncio.run(self.redis_stats())
            published, dropped, queued = stats.published, stats.dropped, stats.length
            workers = [scrape(f"http://127.0.0.1:{port}/metrics") for port in self.worker_ports]
        else:
            # Camera readers observe decode_seconds once per frame, right before publishing it; with WHIP and
            # uploads unused, its count is the number of frames published to the in-process queue.
            published = int(gateway.get("platestream_decode_seconds_count", 0))
            dropped = int(gateway.get("platestream_frames_dropped_total", 0))
            queued = int(gateway.get("platestream_stream_length", 0))
            workers = [gateway]
        processed = sum(int(w.get("platestream_frames_processed_total", 0)) for w in workers)
        undecodable = sum(int(w.get('platestream_errors_total{stage="decode"}', 0)) for w in workers)
        quick = sum(int(w.get("platestream_frames_read_quickly_total", 0)) for w in workers)
        return Counters(now, wall, published, processed, dropped, undecodable, queued, quick)

    async def redis_stats(self) -> QueueStats:
        from redis.asyncio import Redis

        from workers.redis_queue import RedisFrameQueue

        queue = RedisFrameQueue(Redis.from_url(self.redis_url), stream=self.stream_key, close_client=True)
        try:
            return await queue.stats()
        finally:
            await queue.close()

    def delete_redis_keys(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.delete(self.stream_key, f"{self.stream_key}:dropped", f"{self.stream_key}:published")
        finally:
            client.close()

    def capture_latencies_ms(self, since: datetime, until: datetime) -> list[float]:
        """Capture -> stored read of every read captured in [since, until) by the bench cameras."""
        return asyncio.run(read_latencies_ms(self.database_url, self.camera_ids, since, until))


async def read_latencies_ms(database_url: str, camera_ids: list[int], since: datetime, until: datetime) -> list[float]:
    from sqlalchemy import select

    from storage.db import make_engine
    from storage.models import Read

    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(Read.captured_at, Read.created_at).where(
                    Read.camera_id.in_(camera_ids), Read.captured_at >= since, Read.captured_at < until))
            return [(created - captured).total_seconds() * 1000 for captured, created in rows]
    finally:
        await engine.dispose()
