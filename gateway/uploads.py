"""Reading uploaded files with a size limit, so a huge upload is refused rather than held in memory."""

from __future__ import annotations

from fastapi import UploadFile

from gateway.errors import BadRequest, PayloadTooLarge

CHUNK = 1 << 20


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(f"upload of {upload.size} bytes exceeds the limit of {limit} bytes")
    chunks, total = [], 0
    while chunk := await upload.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"upload exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    if total == 0:
        raise BadRequest("uploaded file is empty")
    return b"".join(chunks)
