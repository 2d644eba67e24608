"""Serving stored plate crops: one way for reads and events, never a path outside the data dir."""

from __future__ import annotations

import asyncio

from fastapi.responses import FileResponse

from gateway.errors import NotFoundError
from gateway.state import Services
from storage.crops import crop_file


async def crop_response(services: Services, relative: str | None, owner: str) -> FileResponse:
    if not relative:
        raise NotFoundError(f"{owner} has no crop")
    path = await asyncio.to_thread(crop_file, services.settings.data_dir, relative)  # blocking file checks
    return FileResponse(path, media_type="image/jpeg")
