"""Events (one per vehicle pass): storage on SQLite and Postgres, the worker's tracker registry, the HTTP API, and
the acceptance test: a video source showing each car for several frames yields one event per car."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.feed import InProcessFeed
from gateway.metrics import create_metrics
from pipeline.formats import load_regions
from pipeline.records import Box
from pipeline.track import TrackerConfig
from storage import InvalidQuery, NotFound
from storage.events import add_event, get_event, search_events, set_event_for_reads
from storage.models import Read
from storage.reads import ReadFilters, add_reads
from storage.repository import create_camera, delete_camera
from storage.schemas import event_payload
from tests.service_helpers import AUTH, Process, free_port, make_cars_video, settings_for, wait_until
from tests.test_storage import T0, database_url, engine, record, session
from workers.events import TrackerRegistry, store_events
from workers.messages import EventRecord, FrameMessage

__all__ = ["database_url", "engine", "session"]  # fixtures shared with test_storage


def event(plate: str, minutes: float = 0, seconds: float = 4, **fields: Any) -> EventRecord:
    values: dict[str, Any] = {
        "plate": plate, "confidence": 88.5, "frames": 5, "region": "us",
        "candidates": [{"plate": plate, "confidence": 88.5, "matches_template": True}],
        "first_seen": T0 + timedelta(minutes=minutes), "last_seen": T0 + timedelta(minutes=minutes, seconds=seconds),
    }
    values.update(fields)
    return EventRecord(**values)


# --- storage ------------------------------------------------------------------------------------------------


async def test_events_round_trip_and_link_their_reads(session: AsyncSession) -> None:
    camera = await create_camera(session, name="gate", url="rtsp://a")
    reads = await add_reads(session, [record("ABC123", camera_id=camera.id, job_id="j1") for _ in range(3)])
    row = await add_event(session, event("abc-123", camera_id=camera.id, best_read_id=reads[0].id,
                                         best_crop_path="crops/x.jpg"))
    assert await set_event_for_reads(session, [r.id for r in reads] + [999_999], row.id) == 3
    await session.commit()
    session.expunge_all()

    stored = await get_event(session, row.id)
    assert (stored.plate, stored.camera_id, stored.frames, stored.best_read_id) == ("ABC123", camera.id, 5, reads[0].id)
    assert stored.first_seen == T0 and stored.last_seen.tzinfo is not None
    linked = (await session.scalars(select(Read.event_id).where(Read.camera_id == camera.id))).all()
    assert linked == [row.id] * 3
    payload = event_payload(stored)
    assert payload["crop_url"] == f"/v1/events/{row.id}/crop.jpg" and payload["plate"] == "ABC123"
    with pytest.raises(NotFound, match="event 12345"):
        await get_event(session, 12345)
    with pytest.raises(InvalidQuery):
        await add_event(session, event("--"))

    # Deleting the camera keeps the event unattributed; a pass voted after the delete is stored too.
    await delete_camera(session, camera.id)
    await session.commit()
    session.expunge_all()
    assert (await get_event(session, row.id)).camera_id is None
    late = await add_event(session, event("ABC124", camera_id=camera.id))
    assert late.camera_id is None


async def test_search_events_filters_and_pages_like_reads(session: AsyncSession) -> None:
    gate = await create_camera(session, name="gate", url="rtsp://a")
    plates = ["ABC123", "ABC124", "XBC123", "ZZZ999", "ABC123"]
    rows = [await add_event(session, event(p, minutes=i, camera_id=gate.id if i % 2 else None, confidence=50 + i * 10))
            for i, p in enumerate(plates)]
    [job_read] = await add_reads(session, [record("XBC123", job_id="job-7")])
    await set_event_for_reads(session, [job_read.id], rows[2].id)
    await session.commit()

    async def ids(**filters: Any) -> list[int]:
        found, _ = await search_events(session, ReadFilters(**filters), 100)
        return [r.id for r in found]

    newest_first = [r.id for r in reversed(rows)]
    assert await ids() == newest_first
    assert await ids(plate="abc-123") == [rows[4].id, rows[0].id]
    assert await ids(prefix="ABC") == [rows[4].id, rows[1].id, rows[0].id]
    assert await ids(fuzzy="ABC134", max_distance=1) == [rows[1].id]
    assert await ids(camera_id=gate.id) == [rows[3].id, rows[1].id]
    assert await ids(min_confidence=80) == [rows[4].id, rows[3].id]
    assert await ids(job_id="job-7") == [rows[2].id]
    # A pass overlapping the window counts: event 1 spans 12:01:00-12:01:04.
    window = {"since": T0 + timedelta(minutes=1, seconds=2), "until": T0 + timedelta(minutes=2, seconds=1)}
    assert await ids(**window) == [rows[2].id, rows[1].id]

    first, cursor = await search_events(session, ReadFilters(), 2)
    assert [r.id for r in first] == newest_first[:2] and cursor
    rest, end = await search_events(session, ReadFilters(), 10, cursor)
    assert [r.id for r in rest] == newest_first[2:] and end is None
    with pytest.raises(InvalidQuery):
        await search_events(session, ReadFilters(), 0)


async def test_registry_closes_passes_and_store_events_links_and_publishes(engine: Any, session: AsyncSession) -> None:
    from storage.db import make_sessionmaker

    class Feed(InProcessFeed):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[dict[str, Any]] = []

        async def publish(self, message: dict[str, Any]) -> None:
            self.events.append(message)

    camera = await create_camera(session, name="gate", url="rtsp://a")
    await session.commit()
    wall = [0.0]
    registry = TrackerRegistry(TrackerConfig(quiet_seconds=1.0), clock=lambda: wall[0])

    async def frame(t: float, plate: str | None) -> None:
        message = FrameMessage(jpeg=b"", camera_id=camera.id, captured_at=T0 + timedelta(seconds=t))
        rows = []
        if plate:
            rows = await add_reads(session, [record(plate, camera_id=camera.id, frame_id=message.frame_id,
                                                    captured_at=message.captured_at, crop_path=f"crops/{t}.jpg")])
            await session.commit()
        registry.observe([message], rows)

    for i, plate in enumerate(["ABC123", "ABC128", "ABC123", None]):  # the last read at 0.6 s
        await frame(i * 0.3, plate)
    assert registry.close_idle() == []  # quiet for 0.3 s of the camera's clock only
    await frame(1.7, None)  # frames without plates move the camera's clock on
    [closed] = registry.close_idle()
    await frame(2.0, "XYZ999")
    wall[0] = 5.0  # the camera stopped sending frames: its pass ends on wall time
    [silent] = registry.close_idle()
    assert registry.trackers == {}

    feed, metrics = Feed(), create_metrics()
    stored = await store_events([closed, silent], load_regions()["generic"], make_sessionmaker(engine), feed,
                                metrics)
    assert stored == 2 and [m["type"] for m in feed.events] == ["event", "event"]
    first = feed.events[0]["event"]
    assert (first["plate"], first["frames"], first["camera_id"]) == ("ABC123", 3, camera.id)
    assert first["first_seen"].startswith("2024-05-01T12:00:00") and first["crop_url"]
    session.expunge_all()
    reads = (await session.scalars(select(Read).order_by(Read.id))).all()
    assert [r.event_id for r in reads] == [first["id"]] * 3 + [feed.events[1]["event"]["id"]]
    best = await get_event(session, first["id"])
    assert best.best_crop_path in {"crops/0.0.jpg", "crops/0.6.jpg"}  # a read of the voted text


# --- HTTP API -----------------------------------------------------------------------------------------------


def test_events_api(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        assert client.get("/v1/events").status_code == 401
        services = client.app.state.services  # type: ignore[attr-defined]

        async def seed() -> int:
            async with services.sessions() as s:
                row = await add_event(s, event("ABC123"))
                await s.commit()
                return row.id

        assert client.portal is not None
        event_id = client.portal.call(seed)
        page = client.get("/v1/events?fuzzy=ABC124", headers=AUTH).json()
        assert [e["id"] for e in page["items"]] == [event_id] and page["next_cursor"] is None
        assert client.get(f"/v1/events/{event_id}", headers=AUTH).json()["plate"] == "ABC123"
        for path in ("/v1/events/999", f"/v1/events/{event_id}/crop.jpg", "/v1/events/999/crop.jpg"):
            assert client.get(path, headers=AUTH).status_code == 404, path
        for query in ("limit=0", "max_distance=3", "camera_id=0", "since=yesterday", "cursor=nope", "plate=%20-"):
            assert client.get(f"/v1/events?{query}", headers=AUTH).status_code == 422, query


def test_a_us_service_finds_its_reads_and_passes_asked_for_with_the_letter_o(tmp_path: Path) -> None:
    """PLATESTREAM_REGIONS=us reports the letter O as 0, so its searches fold the plate asked for the same way;
    a generic service searches as typed."""
    async def seed(services: Any) -> None:
        async with services.sessions() as s:
            await add_reads(s, [record("D0N0R1")])
            await add_event(s, event("D0N0R1"))
            await s.commit()

    for regions, found in (("us", True), ("generic", False)):
        with TestClient(create_app(settings_for(tmp_path / regions, regions=regions))) as client:
            assert client.portal is not None
            client.portal.call(seed, client.app.state.services)  # type: ignore[attr-defined]
            for path in ("/v1/reads", "/v1/events"):
                for query in ({"plate": "donor1"}, {"prefix": "DON"}, {"fuzzy": "DONOR7"}):
                    items = client.get(path, headers=AUTH, params=query).json()["items"]
                    assert [i["plate"] for i in items] == (["D0N0R1"] if found else []), (regions, path, query)


# --- acceptance: a video source, each car shown for several frames --------------------------------------------


def car_boxes(video: Path, seconds_each: int, reader: Any) -> list[list[Box]]:
    """Where the pipeline finds plates on each car: the video's first frame of each car, read offline."""
    from workers.videos import sampled_frames

    return [[r.detection.box for r in reader.read([frame])[0].reads]
            for frame, _ in sampled_frames(video, 1 / seconds_each)]


def which_car(box: dict[str, int], cars: list[list[Box]]) -> tuple[int, int] | None:
    """(car, plate) whose still has a plate where this read is (the video re-encodes the stills, so boxes shift a
    bit). A still may show several vehicles: each plate is its own pass."""
    stored = Box(box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
    overlaps = [(stored.iou(b), (i, j)) for i, boxes in enumerate(cars) for j, b in enumerate(boxes)]
    best, plate = max(overlaps, default=(0.0, (0, 0)))
    return plate if best >= 0.5 else None


@pytest.mark.slow
def test_each_car_of_a_video_source_yields_one_event(tmp_path: Path, reader: Any) -> None:
    count, seconds_each, quiet = 8, 2, 2.0  # the default quiet time: a few missed frames must not end a pass
    video, _ = make_cars_video(tmp_path / "cars.mp4", count=count, seconds_each=seconds_each)
    port, data = free_port(), tmp_path / "data"
    env = {"PLATESTREAM_DATA_DIR": str(data), "PLATESTREAM_PORT": str(port), "PLATESTREAM_THREADS": "1",
           "PLATESTREAM_API_TOKEN": AUTH["Authorization"].split()[1], "PLATESTREAM_ALLOW_FILE_URLS": "true",
           "PLATESTREAM_TRACK_QUIET_S": str(quiet)}
    service = Process(["run"], tmp_path / "run.log", env)
    try:
        service.wait_for_line("Uvicorn running", timeout=90)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30) as api:
            camera = api.post("/v1/cameras", json={"name": "cars", "url": str(video), "fps": 3}).json()
            time.sleep(count * seconds_each + 0.5)  # one pass of the video (the file source then loops)
            api.patch(f"/v1/cameras/{camera['id']}", json={"enabled": False})
            seen: list[int] = []

            def settled() -> bool:  # every queued frame read, every pass closed: the read count stops growing
                items = api.get("/v1/reads", params={"limit": 500}).json()["items"]
                seen.append(len(items))
                return bool(items) and all(r["event_id"] for r in items) and seen[-3:] == [len(items)] * 3

            wait_until(settled, timeout=240, interval=1.0)
            feed_events = api.get("/v1/events", params={"limit": 500}).json()["items"]
    finally:
        assert service.stop(signal.SIGTERM, timeout=60) == 0, service.output()

    with sqlite3.connect(data / "platestream.db") as db:
        reads = db.execute("SELECT id, plate, box, captured_at, event_id FROM reads ORDER BY captured_at").fetchall()
        events = dict(db.execute("SELECT id, plate FROM events").fetchall())
    assert reads and all(event_id is not None for *_, event_id in reads)
    assert {e["id"] for e in feed_events} == set(events)

    # Passes: the reads of one car, split where the car was gone for longer than its time on screen (a loop).
    cars = car_boxes(video, seconds_each, reader)
    assert len(cars) == count
    passes: dict[tuple[tuple[int, int], int], set[int]] = {}
    last_seen: dict[tuple[int, int], tuple[datetime, int]] = {}
    for _, _, box, captured_at, event_id in reads:
        car = which_car(json.loads(box), cars)
        if car is None:
            continue
        at = datetime.fromisoformat(captured_at)
        previous, index = last_seen.get(car, (at, 0))
        index += (at - previous).total_seconds() > seconds_each + quiet
        last_seen[car] = (at, index)
        passes.setdefault((car, index), set()).add(event_id)
    assert passes, "the pipeline must read some plate in the test video"
    assert all(len(ids) == 1 for ids in passes.values()), f"a pass split into several events: {passes}"
    assert len(set(events)) == len(passes), f"events {events} vs passes {passes}"

    for event_id, plate in events.items():
        texts = Counter(p for _, p, _, _, e in reads if e == event_id)
        top, votes = texts.most_common(1)[0]
        if votes * 2 > sum(texts.values()):
            assert plate == top, f"event {event_id}: {plate!r}, but most of its reads say {top!r}: {texts}"
