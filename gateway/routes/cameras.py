"""Camera CRUD and WHIP ingest. Cameras persist; enabled ones are read again after a restart."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from gateway.deps import DbId, ServicesDep, SessionDep
from gateway.errors import NotFoundError, Unprocessable
from gateway.schemas import CameraIn, CameraOut, CameraPatch, check_camera_url
from gateway.state import Services
from storage import cameras as repo
from storage.models import Camera

router = APIRouter(prefix="/v1/cameras", tags=["cameras"])


def camera_out(services: Services, camera: Camera) -> CameraOut:
    """Stored fields, with the live status of this gateway's reader where there is one."""
    out = CameraOut.model_validate(camera)
    live = services.cameras.status(camera.id) if services.cameras else None
    if live is not None:
        out.connected, out.last_error = live.connected, live.last_error
        out.last_frame_at, out.measured_fps = live.last_frame_at, live.measured_fps  # type: ignore[assignment]
    return out


def validated_url(services: Services, url: str) -> str:
    try:
        return check_camera_url(url, services.settings.allow_file_urls)
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc


@router.post("", status_code=status.HTTP_201_CREATED)
async def create(body: CameraIn, services: ServicesDep, session: SessionDep) -> CameraOut:
    camera = await repo.create_camera(session, name=body.name, url=validated_url(services, body.url), fps=body.fps,
                                      enabled=body.enabled, zones=body.zones, min_plate_width=body.min_plate_width)
    await session.commit()
    if services.cameras:
        services.cameras.apply(camera)
    return camera_out(services, camera)


@router.get("")
async def list_all(services: ServicesDep, session: SessionDep) -> list[CameraOut]:
    return [camera_out(services, c) for c in await repo.list_cameras(session)]


@router.get("/{camera_id}")
async def get_one(camera_id: DbId, services: ServicesDep, session: SessionDep) -> CameraOut:
    return camera_out(services, await repo.get_camera(session, camera_id))


@router.patch("/{camera_id}")
async def patch(camera_id: DbId, body: CameraPatch, services: ServicesDep, session: SessionDep) -> CameraOut:
    url = validated_url(services, body.url) if body.url is not None else None
    camera = await repo.update_camera(session, camera_id, name=body.name, url=url, fps=body.fps,
                                      enabled=body.enabled, zones=body.zones, min_plate_width=body.min_plate_width)
    await session.commit()
    if services.cameras:
        services.cameras.apply(camera)
    return camera_out(services, camera)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(camera_id: DbId, services: ServicesDep, session: SessionDep) -> Response:
    await repo.delete_camera(session, camera_id)
    await session.commit()
    if services.cameras:
        services.cameras.remove(camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{camera_id}/whip", status_code=status.HTTP_201_CREATED,
             responses={201: {"content": {"application/sdp": {}}}})
async def whip_offer(camera_id: DbId, request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """WHIP (RFC 9725): the body is an SDP offer (application/sdp); the answer comes back as the body."""
    camera = await repo.get_camera(session, camera_id)
    if "application/sdp" not in request.headers.get("content-type", ""):
        raise Unprocessable("Content-Type must be application/sdp")
    body = (await request.body()).decode("utf-8", errors="replace")
    assert services.whip is not None
    session_id, answer = await services.whip.offer(camera.id, camera.fps, body)
    location = f"/v1/cameras/{camera_id}/whip/{session_id}"
    return Response(answer, status_code=201, media_type="application/sdp", headers={"Location": location})


@router.delete("/{camera_id}/whip/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def whip_end(camera_id: DbId, session_id: str, services: ServicesDep) -> Response:
    if services.whip is None or not services.whip.owns(session_id, camera_id):
        raise NotFoundError(f"WHIP session {session_id} not found")
    await services.whip.close(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
