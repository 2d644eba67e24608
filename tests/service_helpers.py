"""Helpers for service tests: settings, auth headers, test videos and fresh Postgres databases.

The process, video and database helpers live in platestream.bench (the service benchmark uses them too);
they are re-exported here so the tests keep one import place.
"""

from __future__ import annotations

from pathlib import Path

from platestream.bench import media
from platestream.bench.procs import POSTGRES_ADMIN, Process, free_port, fresh_postgres, wait_until
from platestream.settings import ServiceSettings
from tests.conftest import dataset

__all__ = [
    "AUTH", "POSTGRES_ADMIN", "REDIS_URL", "TOKEN", "Process", "free_port", "fresh_postgres", "make_cars_video",
    "rtsp_server_command", "settings_for", "wait_until",
]

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REDIS_URL = "redis://127.0.0.1:6379/0"
rtsp_server_command = media.rtsp_server_command


def settings_for(tmp_path: Path, **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {"api_token": TOKEN, "data_dir": tmp_path / "data", "worker_max_wait_ms": 20}
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


def make_cars_video(out: Path, count: int = 6, seconds_each: int = 2, fps: int = 10) -> tuple[Path, list[str]]:
    """media.make_cars_video on the real endtoend-us set; `dataset` fails the test clearly when it is missing."""
    return media.make_cars_video(out, count, seconds_each, fps, dataset("endtoend-us"))
