"""Camera configuration and live status.

Like every repository function here, these flush but never commit: the caller owns the transaction
(`async with sessionmaker.begin() as session: ...`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pipeline.zones import check_zones
from storage.errors import Conflict, InvalidQuery, NotFound
from storage.lookup import assign_given, get_or_raise
from storage.models import Camera


async def create_camera(
    session: AsyncSession, *, name: str, url: str, fps: float = 5.0, enabled: bool = True,
    zones: Sequence[Sequence[Sequence[float]]] = (), min_plate_width: int = 0,
) -> Camera:
    _check_fps(fps)
    camera = Camera(name=name, url=url, fps=fps, enabled=enabled, zones=_checked_zones(zones),
                    min_plate_width=_checked_width(min_plate_width))
    async with _unique_name(session, name):
        session.add(camera)
    return camera


async def get_camera(session: AsyncSession, camera_id: int) -> Camera:
    return await get_or_raise(session, Camera, camera_id, "camera")


async def list_cameras(session: AsyncSession) -> Sequence[Camera]:
    return (await session.scalars(select(Camera).order_by(Camera.id))).all()


async def update_camera(
    session: AsyncSession,
    camera_id: int,
    *,
    name: str | None = None,
    url: str | None = None,
    fps: float | None = None,
    enabled: bool | None = None,
    zones: Sequence[Sequence[Sequence[float]]] | None = None,
    min_plate_width: int | None = None,
) -> Camera:
    """Partial update: None leaves a field as it is (none of these columns is nullable); zones=[] clears them."""
    camera = await get_camera(session, camera_id)
    if fps is not None:
        _check_fps(fps)
    checked_zones = _checked_zones(zones) if zones is not None else None
    if min_plate_width is not None:
        _checked_width(min_plate_width)
    async with _unique_name(session, name or camera.name):
        assign_given(camera, name=name, url=url, fps=fps, enabled=enabled, zones=checked_zones,
                     min_plate_width=min_plate_width)
    return camera


async def delete_camera(session: AsyncSession, camera_id: int) -> None:
    """Delete a camera; its reads stay, with camera_id set to NULL by the foreign key."""
    camera = await get_camera(session, camera_id)
    await session.delete(camera)
    await session.flush()


async def update_camera_status(
    session: AsyncSession,
    camera_id: int,
    *,
    connected: bool,
    last_frame_at: datetime | None = None,
    measured_fps: float | None = None,
    last_error: str | None = None,
) -> Camera:
    """Replace the whole status snapshot (None clears a value); the gateway owns these columns.

    A Core UPDATE that sets updated_at to itself: status changes every few seconds and must not look
    like a configuration change.
    """
    statement = (
        update(Camera)
        .where(Camera.id == camera_id)
        .values(
            connected=connected,
            last_frame_at=last_frame_at,
            measured_fps=measured_fps,
            last_error=last_error,
            updated_at=Camera.updated_at,
        )
        .returning(Camera.id)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise NotFound("camera", camera_id)
    camera = await session.get(Camera, camera_id, populate_existing=True)
    assert camera is not None  # updated just above, in the same transaction
    return camera


def _checked_zones(zones: Sequence[Sequence[Sequence[float]]]) -> list[list[list[float]]]:
    # The API validates too (422 with the same message); this guards every other caller of the repository.
    try:
        return check_zones(zones)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(str(exc)) from exc


def _checked_width(width: int) -> int:
    if width < 0:
        raise InvalidQuery(f"min_plate_width must be 0 or more pixels, got {width}")
    return width


def _check_fps(fps: float) -> None:
    if not fps > 0:  # also rejects NaN
        raise InvalidQuery(f"fps must be greater than 0, got {fps!r}")


@asynccontextmanager
async def _unique_name(session: AsyncSession, name: str) -> AsyncIterator[None]:
    """Apply and flush changes inside a savepoint, so a duplicate name becomes Conflict without aborting
    the caller's transaction. Changes must be made inside the block: entering it flushes pending work."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as error:
        raise Conflict(f"a camera named {name!r} already exists") from error
