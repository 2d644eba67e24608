"""Offline video jobs: upload -> job -> reads, in embedded mode (thread) and with RQ on Redis + Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from tests.service_helpers import AUTH, REDIS_URL, TOKEN, Process, fresh_postgres, make_cars_video, settings_for
from tests.service_helpers import wait_until as poll

pytestmark = pytest.mark.slow


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return make_cars_video(tmp_path / "cars.mp4", count=3, seconds_each=1)[0]


def run_job(client: TestClient, video: Path) -> dict[str, Any]:
    with video.open("rb") as handle:
        accepted = client.post("/v1/videos", headers=AUTH, files={"file": ("cars.mp4", handle, "video/mp4")})
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["url"]
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(url, headers=AUTH).json()
        return job if job["status"] in ("done", "failed") else None

    job = poll(finished, timeout=180, interval=1)
    assert job is not None and job["status"] == "done", job
    return job


def check_reads(client: TestClient, job: dict[str, Any]) -> None:
    assert job["frames"] == 15  # 3 s of video sampled at 5 fps
    reads = client.get("/v1/reads", headers=AUTH, params={"job_id": job["id"], "limit": 100}).json()["items"]
    assert len(reads) == job["reads"] and reads, job
    assert all(r["job_id"] == job["id"] and r["camera_id"] is None and r["crop_url"] for r in reads)


def test_embedded_video_job(tmp_path: Path, video: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        check_reads(client, run_job(client, video))


@pytest.fixture
def rq_service(tmp_path: Path) -> Iterator[dict[str, str]]:
    with fresh_postgres() as database_url:
        env = {"PLATESTREAM_API_TOKEN": TOKEN, "PLATESTREAM_DATABASE_URL": database_url,
               "PLATESTREAM_REDIS_URL": REDIS_URL, "PLATESTREAM_DATA_DIR": str(tmp_path / "data"),
               "PLATESTREAM_THREADS": "1"}
        Process(["db", "upgrade"], tmp_path / "db.log", env).proc.wait(120)
        worker = Process(["rq-worker"], tmp_path / "rq.log", env)
        yield env
        worker.stop()


def test_rq_video_job(tmp_path: Path, video: Path, rq_service: dict[str, str]) -> None:
    settings = settings_for(tmp_path, database_url=rq_service["PLATESTREAM_DATABASE_URL"], redis_url=REDIS_URL,
                            stream_key=f"platestream:test:rq:{tmp_path.name}")
    with TestClient(create_app(settings, ingest=False)) as client:
        check_reads(client, run_job(client, video))
