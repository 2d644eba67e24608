"""Per-camera zones and minimum plate width: the pure geometry, the API's 422 answers, and the worker storing only
the reads its camera's filters keep (a real endtoend-us frame through the real pipeline)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engines import Engine
from gateway.app import create_app
from gateway.feed import InProcessFeed
from gateway.metrics import create_metrics
from pipeline.reader import PlateReader, ReaderConfig
from pipeline.records import Box
from pipeline.zones import MAX_POINTS, PlateFilter, check_zones
from storage import InvalidQuery, default_database_url, make_engine, make_sessionmaker, upgrade
from storage.models import Read
from storage.repository import create_camera
from storage.schemas import read_payload
from tests.conftest import endtoend_rows
from tests.service_helpers import AUTH, settings_for
from workers.batching import BatchPolicy
from workers.camera_filters import CameraFilters
from workers.messages import FrameMessage
from workers.queue import InProcessQueue
from workers.worker import Worker, WorkerContext

SQUARE = [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]
BOW_TIE = [[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]

# --- geometry -----------------------------------------------------------------------------------------------


def test_centre_inside_any_zone_and_min_width() -> None:
    keep = PlateFilter.from_config([SQUARE, [[0.6, 0.6], [1, 0.6], [1, 1]]], 50)
    assert keep.keeps(Box(100, 100, 200, 130), 1000, 1000)  # centre (0.15, 0.115) in the square
    assert not keep.keeps(Box(100, 100, 140, 130), 1000, 1000)  # 40 px wide: below the minimum
    assert not keep.keeps(Box(600, 100, 700, 130), 1000, 1000)  # centre right of the square
    assert keep.keeps(Box(880, 700, 980, 730), 1000, 1000)  # inside the triangle
    assert keep.keeps(Box(450, 480, 550, 520), 1000, 1000)  # centre (0.5, 0.5) on an edge counts as inside


def test_zones_are_normalised_so_they_survive_a_resolution_change() -> None:
    keep = PlateFilter.from_config([SQUARE], 0)
    assert keep.keeps(Box(100, 100, 200, 130), 1000, 1000) and keep.keeps(Box(200, 200, 400, 260), 2000, 2000)


def test_no_zones_is_the_whole_frame() -> None:
    assert PlateFilter.from_config([], 0).keeps_everything
    assert PlateFilter.from_config(None, None).keeps(Box(0, 0, 1, 1), 10, 10)
    assert not PlateFilter.from_config([], 5).keeps_everything


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        ([[[0, 0], [1, 1]]], "at least 3 points"),
        ([[[0, 0], [1.5, 0], [1, 1]]], "outside 0..1"),
        ([[[0, 0], [-0.1, 0], [1, 1]]], "outside 0..1"),
        ([BOW_TIE], "intersects itself"),
        ([[[0, 0], [0.5, 0.5], [1, 1]]], "no area"),
        ([[[i / 200, (i % 2) / 2] for i in range(MAX_POINTS + 1)]], "at most 100 points"),
        ([SQUARE, [[0, 0, 0], [1, 0], [1, 1]]], "zone 1: each point is"),
    ],
)
def test_bad_zones_are_refused_with_a_reason(zones: list[list[list[float]]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_zones(zones)


def test_good_zones_pass_unchanged() -> None:
    assert check_zones([SQUARE]) == [SQUARE]


# --- API ----------------------------------------------------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path))) as test_client:
        yield test_client


def test_camera_zones_round_trip_and_patch(client: TestClient) -> None:
    body = {"name": "gate", "url": "rtsp://127.0.0.1:1/x", "enabled": False, "zones": [SQUARE], "min_plate_width": 40}
    created = client.post("/v1/cameras", headers=AUTH, json=body)
    assert created.status_code == 201, created.text
    camera = created.json()
    assert camera["zones"] == [SQUARE] and camera["min_plate_width"] == 40
    patched = client.patch(f"/v1/cameras/{camera['id']}", headers=AUTH, json={"min_plate_width": 0}).json()
    assert patched["zones"] == [SQUARE] and patched["min_plate_width"] == 0  # omitted fields stay
    cleared = client.patch(f"/v1/cameras/{camera['id']}", headers=AUTH, json={"zones": []}).json()
    assert cleared["zones"] == []
    plain = client.post("/v1/cameras", headers=AUTH, json={"name": "b", "url": "rtsp://h/x", "enabled": False}).json()
    assert plain["zones"] == [] and plain["min_plate_width"] == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"zones": [[[0, 0], [1, 1]]]}, "at least 3 points"),
        ({"zones": [[[0, 0], [2, 0], [1, 1]]]}, "outside 0..1"),
        ({"zones": [BOW_TIE]}, "intersects itself"),
        ({"zones": [[[i / 200, (i % 2) / 2] for i in range(101)]]}, "at most 100 points"),
        ({"min_plate_width": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_filters_are_422(client: TestClient, fields: dict[str, object], message: str) -> None:
    body = {"name": "gate", "url": "rtsp://127.0.0.1:1/x", "enabled": False, **fields}
    answer = client.post("/v1/cameras", headers=AUTH, json=body)
    assert answer.status_code == 422 and message in answer.text, answer.text
    camera = client.post("/v1/cameras", headers=AUTH, json={**body, **{"zones": [], "min_plate_width": 0}}).json()
    patched = client.patch(f"/v1/cameras/{camera['id']}", headers=AUTH, json=fields)
    assert patched.status_code == 422 and message in patched.text, patched.text


# --- worker -------------------------------------------------------------------------------------------------


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = default_database_url(tmp_path)
    await upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_repository_refuses_bad_filters(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        with pytest.raises(InvalidQuery, match="intersects itself"):
            await create_camera(session, name="x", url="rtsp://h/x", zones=[BOW_TIE])
        with pytest.raises(InvalidQuery, match="min_plate_width"):
            await create_camera(session, name="y", url="rtsp://h/x", min_plate_width=-3)


async def test_worker_stores_only_the_reads_its_camera_keeps(
    tmp_path: Path, endtoend_dir: Path, reader: PlateReader, sessions: async_sessionmaker[AsyncSession]
) -> None:
    row = endtoend_rows(1)[0]
    jpeg = (endtoend_dir / row["file"]).read_bytes()
    # Zones around the labelled plate (1280x720 frame) and in a corner far from it; widths either side of its.
    cx, cy = (int(row["x"]) + int(row["w"]) / 2) / 1280, (int(row["y"]) + int(row["h"]) / 2) / 720
    around = [[cx - 0.1, cy - 0.1], [cx + 0.1, cy - 0.1], [cx + 0.1, cy + 0.1], [cx - 0.1, cy + 0.1]]
    corner = [[0.0, 0.9], [0.1, 0.9], [0.1, 1.0], [0.0, 1.0]]
    configs = {"all": ([], 0), "around": ([around], 10), "corner": ([corner], 0), "wide": ([], 400)}
    async with sessions() as session:
        ids = {name: (await create_camera(session, name=name, url="rtsp://h/x", enabled=False, zones=zones,
                                          min_plate_width=width)).id for name, (zones, width) in configs.items()}
        await session.commit()

    queue = InProcessQueue()
    context = WorkerContext(queue, reader, sessions, InProcessFeed(), create_metrics(), tmp_path / "data", 10**8)
    worker = Worker("w", context, BatchPolicy(8, 0, 30_000))
    for camera_id in ids.values():
        await queue.publish(FrameMessage(jpeg, camera_id=camera_id))
    await worker.process(await queue.consume("w", 8, 0))

    async with sessions() as session:
        stored = (await session.scalars(select(Read))).all()
    per_camera = {name: [r.plate for r in stored if r.camera_id == camera_id] for name, camera_id in ids.items()}
    assert per_camera["all"], "the frame's plate was not read at all"
    assert per_camera["around"] and set(per_camera["around"]) <= set(per_camera["all"])
    assert per_camera["corner"] == [] and per_camera["wide"] == []


async def test_filter_cache_refreshes_after_its_ttl(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = [0.0]
    async with sessions() as session:
        camera = await create_camera(session, name="gate", url="rtsp://h/x", min_plate_width=10)
        await session.commit()
    cache = CameraFilters(sessions, ttl_s=5.0, clock=lambda: now[0])
    assert (await cache.filters_for({camera.id}))[camera.id].min_plate_width == 10
    async with sessions() as session:
        (await session.get_one(type(camera), camera.id)).min_plate_width = 99
        await session.commit()
    now[0] = 4.0
    assert (await cache.filters_for({camera.id}))[camera.id].min_plate_width == 10  # cached
    now[0] = 5.0
    assert (await cache.filters_for({camera.id}))[camera.id].min_plate_width == 99
    assert (await cache.filters_for({12345}))[12345].keeps_everything  # a deleted camera filters nothing


async def test_worker_stores_the_template_verdict_under_flag(
    tmp_path: Path, endtoend_dir: Path, detector: Engine, recognizer: Engine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """PLATESTREAM_TEMPLATE_POLICY=flag: reads are kept and stored with matches_template, exposed on the API shape.
    (Lives here for the worker fixtures; the policy itself is tested in test_formats and test_cli.)"""
    flagging = PlateReader(detector, recognizer, ReaderConfig(regions=("gb", "generic"), template_policy="flag"))
    queue = InProcessQueue()
    context = WorkerContext(queue, flagging, sessions, InProcessFeed(), create_metrics(), tmp_path / "data", 10**8)
    for row in endtoend_rows(4):
        await queue.publish(FrameMessage((endtoend_dir / row["file"]).read_bytes()))
    await Worker("w", context, BatchPolicy(8, 0, 30_000)).process(await queue.consume("w", 8, 0))
    async with sessions() as session:
        stored = (await session.scalars(select(Read))).all()
    assert stored and {r.matches_template for r in stored} <= {True, False}
    assert False in {r.matches_template for r in stored}  # US plates fit no UK template, and are still stored
    assert all(read_payload(r)["matches_template"] == r.matches_template for r in stored)


async def test_a_worker_behind_its_cameras_reads_quickly_until_it_catches_up(
    tmp_path: Path, endtoend_dir: Path, reader: PlateReader, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """BatchPolicy.quick_after_ms (PLATESTREAM_WORKER_QUICK_AFTER_MS): a batch whose oldest frame waited longer is
    read in the first view only, counted, and its reads stored as any others."""
    from datetime import timedelta

    from workers.messages import utcnow

    queue, metrics = InProcessQueue(), create_metrics()
    context = WorkerContext(queue, reader, sessions, InProcessFeed(), metrics, tmp_path / "data", 10**8)
    worker = Worker("w", context, BatchPolicy(8, 0, 30_000, quick_after_ms=300))
    jpegs = [(endtoend_dir / row["file"]).read_bytes() for row in endtoend_rows(2)]
    for jpeg in jpegs:  # fresh frames: read thoroughly
        await queue.publish(FrameMessage(jpeg))
    await worker.process(await queue.consume("w", 8, 0))
    assert metrics.registry.get_sample_value("platestream_frames_read_quickly_total") == 0
    for jpeg in jpegs:  # frames that waited two seconds: read quickly
        await queue.publish(FrameMessage(jpeg, enqueued_at=utcnow() - timedelta(seconds=2)))
    await worker.process(await queue.consume("w", 8, 0))
    assert metrics.registry.get_sample_value("platestream_frames_read_quickly_total") == 2
    for jpeg in jpegs:  # an uploaded video's frames wait by design, and are read in full
        await queue.publish(FrameMessage(jpeg, job_id="video", enqueued_at=utcnow() - timedelta(seconds=2)))
    await worker.process(await queue.consume("w", 8, 0))
    assert metrics.registry.get_sample_value("platestream_frames_read_quickly_total") == 2
    async with sessions() as session:
        stored = (await session.scalars(select(Read))).all()
    assert len(stored) >= 6 and len({r.frame_id for r in stored}) == 6  # every frame's plate, every way
    assert not BatchPolicy(quick_after_ms=0).reads_quickly(3600.0)  # 0: never
