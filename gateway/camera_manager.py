"""Runs one CameraReader per enabled camera and writes their status to the database every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.ingest import CameraReader, CameraStatus
from gateway.schemas import PUSH_SCHEME
from gateway.state import Services
from storage import cameras as repo
from storage.errors import NotFound
from storage.models import Camera

log = logging.getLogger(__name__)
STATUS_EVERY_S = 2.0


class CameraManager:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.readers: dict[int, CameraReader] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Resume every enabled camera (they persist across restarts)."""
        async with self.services.sessions() as session:
            for camera in await repo.list_cameras(session):
                self.apply(camera)
        self._task = asyncio.create_task(self._flush_status())

    def apply(self, camera: Camera) -> None:
        """(Re)start the camera's reader with its current settings, or stop it when disabled."""
        self._stop(camera.id)
        if not camera.enabled or camera.url.lower().startswith(f"{PUSH_SCHEME}:"):
            return
        s = self.services.settings
        reader = CameraReader(camera.id, camera.url, camera.fps, self.services.queue.publish,
                              asyncio.get_running_loop(), self.services.metrics, s.jpeg_quality, s.reconnect_max_s)
        self.readers[camera.id] = reader
        reader.start()

    def remove(self, camera_id: int) -> None:
        self._stop(camera_id)

    def status(self, camera_id: int) -> CameraStatus | None:
        reader = self.readers.get(camera_id)
        return reader.status if reader else None

    def _stop(self, camera_id: int) -> None:
        reader = self.readers.pop(camera_id, None)
        if reader is not None:
            reader.stop(timeout=0)  # the thread notices within one frame or read timeout; never block the loop

    async def _flush_status(self) -> None:
        while True:
            await asyncio.sleep(STATUS_EVERY_S)
            try:
                await self._write_statuses()
            except Exception:
                log.warning("could not store camera status", exc_info=True)

    async def _write_statuses(self) -> None:
        async with self.services.sessions() as session:
            for camera_id, reader in list(self.readers.items()):
                st = reader.status
                with contextlib.suppress(NotFound):
                    await repo.update_camera_status(
                        session, camera_id, connected=st.connected, last_frame_at=st.last_frame_at,  # type: ignore[arg-type]
                        measured_fps=st.measured_fps, last_error=st.last_error)
            await session.commit()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        readers = list(self.readers.values())
        self.readers.clear()
        for reader in readers:
            reader._stop.set()
        await asyncio.gather(*(asyncio.to_thread(r.stop, 5.0) for r in readers))
