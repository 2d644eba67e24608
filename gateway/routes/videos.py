"""Offline video jobs: upload a video, follow its job, then find its reads with `/v1/reads?job_id=`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, File, UploadFile, status

from gateway.deps import ServicesDep, SessionDep
from gateway.errors import BadRequest, PayloadTooLarge
from gateway.state import Services
from storage.repository import create_video_job, get_video_job

router = APIRouter(prefix="/v1/videos", tags=["videos"])
CHUNK = 1 << 20


async def save_upload(upload: UploadFile, dest: Path, limit: int) -> int:
    """Stream to disk: videos can be large, so they never sit in memory whole."""
    total = 0
    with dest.open("wb") as handle:
        while chunk := await upload.read(CHUNK):
            total += len(chunk)
            if total > limit:
                handle.close()
                dest.unlink(missing_ok=True)
                raise PayloadTooLarge(f"video exceeds the limit of {limit} bytes")
            handle.write(chunk)
    if total == 0:
        dest.unlink(missing_ok=True)
        raise BadRequest("uploaded file is empty")
    return total


def check_video(path: Path) -> None:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise BadRequest("the upload has no video stream")
    except av.error.FFmpegError as exc:
        path.unlink(missing_ok=True)
        raise BadRequest(f"not a readable video: {exc}") from exc


def enqueue(services: Services, job_id: str, path: Path) -> None:
    if services.redis is not None:
        from redis import Redis
        from rq import Queue

        queue = Queue("platestream-videos", connection=Redis.from_url(services.settings.redis_url or ""))
        queue.enqueue("workers.videos.process_video", job_id, str(path), job_id=job_id, job_timeout=3600)
        return
    from workers.videos import run_video_job

    async def in_process() -> None:
        from gateway.deps import get_reader_for

        reader = await get_reader_for(services)
        await run_video_job(job_id, path, services.settings, reader)

    task = asyncio.create_task(in_process())
    services.background.add(task)
    task.add_done_callback(services.background.discard)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def upload(services: ServicesDep, session: SessionDep, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    job_id = uuid4().hex
    folder = services.settings.data_dir / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_id}{Path(file.filename or '').suffix[:8] or '.bin'}"
    await save_upload(file, path, services.settings.max_video_bytes)
    await asyncio.to_thread(check_video, path)
    job = await create_video_job(session, filename=file.filename or path.name, job_id=job_id)
    await session.commit()
    enqueue(services, job_id, path)
    return {"id": job.id, "status": job.status, "url": f"/v1/videos/{job.id}"}


@router.get("/{job_id}")
async def job_status(job_id: str, session: SessionDep) -> dict[str, Any]:
    job = await get_video_job(session, job_id)
    return {"id": job.id, "filename": job.filename, "status": job.status, "frames": job.frames,
            "reads": job.reads, "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at,
            "reads_url": f"/v1/reads?job_id={job.id}"}
