"""Video jobs (uploaded files read offline), plus one import point for every repository function.

Functions flush but never commit; the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.cameras import (
    create_camera,
    delete_camera,
    get_camera,
    list_cameras,
    update_camera,
    update_camera_status,
)
from storage.errors import Conflict, InvalidQuery, NotFound
from storage.events import add_event, get_event, search_events, set_event_for_reads
from storage.lookup import assign_given, get_or_raise
from storage.models import JOB_STATUSES, JobStatus, VideoJob, utcnow
from storage.reads import ReadFilters, add_reads, get_read, normalize_plate, search_reads

__all__ = [
    "ReadFilters",
    "add_event",
    "add_reads",
    "add_video_job_progress",
    "create_camera",
    "create_video_job",
    "delete_camera",
    "get_camera",
    "get_event",
    "get_read",
    "get_video_job",
    "list_cameras",
    "normalize_plate",
    "search_events",
    "search_reads",
    "set_event_for_reads",
    "update_camera",
    "update_camera_status",
    "update_video_job",
]

FINISHED: frozenset[str] = frozenset({"done", "failed"})


async def create_video_job(session: AsyncSession, *, filename: str, job_id: str | None = None) -> VideoJob:
    """A queued job; its id (a uuid4 hex unless given) names the job in the queue and in reads.job_id."""
    if job_id is not None and await session.get(VideoJob, job_id) is not None:
        raise Conflict(f"a video job with id {job_id!r} already exists")
    job = VideoJob(filename=filename) if job_id is None else VideoJob(id=job_id, filename=filename)
    try:  # the check above can race with another process
        async with session.begin_nested():  # a clash must not abort the caller's transaction
            session.add(job)
    except IntegrityError as error:
        raise Conflict(f"a video job with id {job.id!r} already exists") from error
    return job


async def get_video_job(session: AsyncSession, job_id: str) -> VideoJob:
    return await get_or_raise(session, VideoJob, job_id, "video job")


async def update_video_job(
    session: AsyncSession,
    job_id: str,
    *,
    status: JobStatus | None = None,
    frames: int | None = None,
    reads: int | None = None,
    error: str | None = None,
) -> VideoJob:
    """Set the given fields (None leaves one as it is). Entering done/failed stamps finished_at."""
    job = await get_video_job(session, job_id)
    if status is not None:
        if status not in JOB_STATUSES:
            raise InvalidQuery(f"job status must be one of {', '.join(JOB_STATUSES)}, got {status!r}")
        if status in FINISHED and job.status not in FINISHED:
            job.finished_at = utcnow()
        job.status = status
    assign_given(job, frames=frames, reads=reads, error=error)
    await session.flush()
    return job


async def add_video_job_progress(session: AsyncSession, job_id: str, *, frames: int = 0, reads: int = 0) -> VideoJob:
    """Add to the counters in one UPDATE: several workers report batches of the same job concurrently,
    and read-modify-write would lose some of their counts."""
    statement = (
        update(VideoJob)
        .where(VideoJob.id == job_id)
        .values(frames=VideoJob.frames + frames, reads=VideoJob.reads + reads)
        .returning(VideoJob.id)
        .execution_options(synchronize_session=False)
    )
    if (await session.execute(statement)).scalar_one_or_none() is None:
        raise NotFound("video job", job_id)
    job = await session.get(VideoJob, job_id, populate_existing=True)
    assert job is not None  # updated just above, in the same transaction
    return job
