"""Helpers for service tests: settings, auth headers, test videos and fresh Postgres databases."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg

from platestream.settings import ServiceSettings
from tests.conftest import dataset, endtoend_rows

T = TypeVar("T")
TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def settings_for(tmp_path: Path, **overrides: object) -> ServiceSettings:
    values: dict[str, object] = {"api_token": TOKEN, "data_dir": tmp_path / "data", "worker_max_wait_ms": 20}
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    name = f"platestream_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def admin_sql(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def make_cars_video(out: Path, count: int = 6, seconds_each: int = 2, fps: int = 10) -> tuple[Path, list[str]]:
    """An H.264 MP4 made by ffmpeg from real endtoend-us frames, each car shown `seconds_each` seconds.
    Returns the video and the labelled plates in order."""
    rows = [r for r in endtoend_rows(222) if r["file"].startswith("car")][:count] or endtoend_rows(count)
    frames = out.parent / f"{out.stem}-frames"
    frames.mkdir(parents=True, exist_ok=True)
    root = dataset("endtoend-us")
    scale = "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2"
    for i, row in enumerate(rows):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(root / row["file"]), "-vf", scale,
                        str(frames / f"f{i:03d}.jpg")], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-framerate", f"1/{seconds_each}", "-i",
                    str(frames / "f%03d.jpg"), "-vf", f"fps={fps},format=yuv420p", "-c:v", "libx264",
                    "-g", str(fps), str(out)], check=True)
    return out, [r["plate"] for r in rows]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A platestream (or helper) subprocess whose output goes to a log file, stopped at exit."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        import os
        import sys

        self.log = log
        command = [sys.executable, "-m", "platestream.cli", *args] if args[0] != "/usr/bin/python3" else args
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(command, stdout=self.handle, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"process exited ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.2)
        raise TimeoutError(f"no {text!r} within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = 15, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        return self.proc.returncode


def wait_until(check: Callable[[], T], timeout: float, interval: float = 0.5) -> T:
    """Poll `check()` until it returns something truthy; that value is returned."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")
