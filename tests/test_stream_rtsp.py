"""End to end with real parts: gst-rtsp-server camera -> gateway -> Redis stream -> worker -> Postgres,
WebSocket feed and /v1/reads search."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.service_helpers import (
    AUTH,
    REDIS_URL,
    TOKEN,
    Process,
    free_port,
    fresh_postgres,
    make_cars_video,
    rtsp_server_command,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def rtsp_url(tmp_path: Path) -> Iterator[str]:
    video, _ = make_cars_video(tmp_path / "cars.mp4", count=6, seconds_each=3)
    port = free_port()
    server = Process(rtsp_server_command(port, "/cars", video), tmp_path / "rtsp.log")
    server.wait_for_line("ready", timeout=20)
    yield f"rtsp://127.0.0.1:{port}/cars"
    server.stop()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A gateway and a worker process on Redis and a fresh Postgres database."""
    import redis

    with fresh_postgres() as database_url:
        port = free_port()
        stream = f"platestream:test:{port}"
        env = {"PLATESTREAM_API_TOKEN": TOKEN, "PLATESTREAM_DATABASE_URL": database_url,
               "PLATESTREAM_REDIS_URL": REDIS_URL, "PLATESTREAM_DATA_DIR": str(tmp_path / "data"),
               "PLATESTREAM_PORT": str(port), "PLATESTREAM_STREAM_KEY": stream,
               "PLATESTREAM_FEED_CHANNEL": f"{stream}:feed", "PLATESTREAM_THREADS": "1"}
        gateway = Process(["gateway"], tmp_path / "gateway.log", env)
        gateway.wait_for_line("Uvicorn running", timeout=90)
        worker = Process(["worker", "--name", "w1"], tmp_path / "worker.log", env)
        worker.wait_for_line("worker w1 started", timeout=90)
        try:
            yield f"http://127.0.0.1:{port}", database_url
        finally:
            worker.stop()
            gateway.stop()
            client = redis.Redis.from_url(REDIS_URL)
            client.delete(stream, f"{stream}:dropped", f"{stream}:published")
            client.close()


async def collect_feed(base: str, seconds: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    url = base.replace("http", "ws") + f"/v1/feed?token={TOKEN}"
    async with websockets.connect(url) as ws:
        try:
            async with asyncio.timeout(seconds):
                while True:
                    events.append(json.loads(await ws.recv()))
        except TimeoutError:
            pass
    return events


async def postgres_reads(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return await conn.fetch("SELECT plate, camera_id, crop_path FROM reads ORDER BY id")
    finally:
        await conn.close()


def one_char_off(plate: str) -> str:
    i = len(plate) // 2
    return plate[:i] + ("X" if plate[i] != "X" else "Y") + plate[i + 1:]


def test_rtsp_camera_reads_reach_postgres_feed_and_search(rtsp_url: str, service: tuple[str, str]) -> None:
    base, database_url = service
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as api:
        camera = api.post("/v1/cameras", json={"name": "rtsp-cam", "url": rtsp_url, "fps": 2}).json()
        events = asyncio.run(collect_feed(base, 25))
        status = api.get(f"/v1/cameras/{camera['id']}").json()
        assert status["connected"] and status["last_frame_at"] and status["measured_fps"] > 0, status

        reads = wait_until(lambda: asyncio.run(postgres_reads(database_url)), timeout=30)
        assert all(r["camera_id"] == camera["id"] and r["crop_path"] for r in reads)
        feed_reads = [e["read"] for e in events if e["type"] == "read"]
        assert feed_reads, "no read arrived on the WebSocket feed"
        assert {r["camera_id"] for r in feed_reads} == {camera["id"]}

        plate = Counter(r["plate"] for r in reads if len(r["plate"]) >= 4).most_common(1)[0][0]
        exact = api.get("/v1/reads", params={"plate": plate}).json()["items"]
        assert exact and {r["plate"] for r in exact} == {plate}
        prefix = api.get("/v1/reads", params={"prefix": plate[:3]}).json()["items"]
        assert prefix and all(r["plate"].startswith(plate[:3]) for r in prefix)
        fuzzy = api.get("/v1/reads", params={"fuzzy": one_char_off(plate), "max_distance": 1}).json()["items"]
        assert plate in {r["plate"] for r in fuzzy}
        crop = api.get(exact[0]["crop_url"])
        assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
