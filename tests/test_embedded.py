"""`platestream run --source FILE`: the whole service in one process on a fresh data dir, as a user starts it."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.service_helpers import Process, free_port, make_cars_video, wait_until

pytestmark = pytest.mark.slow


def test_run_with_a_source_reads_plates_and_stops_gracefully(tmp_path: Path) -> None:
    video, _ = make_cars_video(tmp_path / "cars.mp4", count=3, seconds_each=2)
    port, data = free_port(), tmp_path / "data"
    env = {"PLATESTREAM_DATA_DIR": str(data), "PLATESTREAM_PORT": str(port), "PLATESTREAM_THREADS": "1",
           "PLATESTREAM_WORKER_TASKS": "2"}
    env["PLATESTREAM_API_TOKEN"] = ""  # a fresh machine: the service creates its own token
    service = Process(["run", "--source", str(video)], tmp_path / "run.log", env)
    try:
        service.wait_for_line("Uvicorn running", timeout=90)
        token = (data / "api_token").read_text().strip()
        assert f"API token (from {data / 'api_token'}): {token}" in service.output()
        assert (data / "platestream.db").is_file()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as api:
            cameras = api.get("/v1/cameras").json()
            assert [c["name"] for c in cameras] == ["source-1"] and cameras[0]["url"] == str(video)
            reads = wait_until(lambda: api.get("/v1/reads").json()["items"], timeout=60)
            assert all(r["camera_id"] == cameras[0]["id"] for r in reads)
    finally:
        code = service.stop(signal.SIGTERM, timeout=30)
    assert code == 0, service.output()
    assert "Shutting down" in service.output()
    assert service.output().count("stopped after") == 2  # both worker tasks finished their batches


def test_worker_tasks_default_to_one_per_core_sharing_the_cores() -> None:
    import os

    from platestream.settings import ServiceSettings

    cores = os.cpu_count() or 1
    settings = ServiceSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.resolved_worker_tasks() == cores
    assert settings.engine_threads(cores) == 1 and settings.engine_threads(1) == cores
    assert ServiceSettings(device="cuda", _env_file=None).resolved_worker_tasks() == 1  # type: ignore[call-arg]
    pinned = ServiceSettings(worker_tasks=3, threads=2, _env_file=None)  # type: ignore[call-arg]
    assert pinned.resolved_worker_tasks() == 3 and pinned.engine_threads(3) == 2
