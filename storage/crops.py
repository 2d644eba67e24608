"""Plate crop images on disk, under `<data_dir>/crops/YYYY/MM/DD/<uuid>.jpg`.

Plain blocking file I/O: async callers should run these in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from uuid import uuid4

from storage.errors import NotFound

CROPS_DIR = "crops"


def save_crop(data_dir: Path, jpeg: bytes, captured_at: datetime) -> str:
    """Write a crop and return its path relative to `data_dir` (POSIX separators, as stored in reads.crop_path).

    Written to a temporary file in the same folder and renamed into place, so a reader (or a crash) never
    sees a half-written image. Folders are per UTC day so old crops can be pruned by deleting folders.
    """
    day = (captured_at.replace(tzinfo=UTC) if captured_at.tzinfo is None else captured_at).astimezone(UTC)
    relative = PurePosixPath(CROPS_DIR, f"{day:%Y}", f"{day:%m}", f"{day:%d}", f"{uuid4().hex}.jpg")
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(jpeg)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return str(relative)


def crop_file(data_dir: Path, relative: str) -> Path:
    """The file for a stored crop path. Anything outside `<data_dir>/crops` (`..`, absolute paths, symlinks
    leading out, the database itself) or missing is NotFound, so an API can pass user input straight in."""
    root = (data_dir / CROPS_DIR).resolve()
    try:
        path = (data_dir / relative).resolve()
    except (OSError, ValueError) as error:  # e.g. symlink loops, NUL bytes
        raise NotFound("crop", relative) from error
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("crop", relative)
    return path
