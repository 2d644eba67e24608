"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

NETWORK_SCHEMES = {"rtsp", "rtsps", "http", "https"}
PUSH_SCHEME = "whip"  # `whip:` names a camera whose frames arrive by WebRTC (WHIP) instead of being read


def check_camera_url(url: str, allow_files: bool) -> str:
    """Network streams always; local files (file:// or a path) only when the operator allows them."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == PUSH_SCHEME:  # frames are pushed to /v1/cameras/{id}/whip; nothing to read
        return url
    if scheme in NETWORK_SCHEMES:
        if not urlsplit(url).hostname:
            raise ValueError(f"url {url!r} has no host")
        return url
    if scheme in ("file", "") and allow_files:
        return url
    if scheme in ("file", ""):
        raise ValueError("local files are not allowed as camera sources (set PLATESTREAM_ALLOW_FILE_URLS=true)")
    raise ValueError(f"url scheme {scheme!r} is not allowed; use one of {', '.join(sorted(NETWORK_SCHEMES))}")


class CameraIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000)
    fps: float = Field(5.0, gt=0, le=60, description="frames analysed per second")
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class CameraPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(None, min_length=1, max_length=2000)
    fps: float | None = Field(None, gt=0, le=60)
    enabled: bool | None = None


class CameraOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    fps: float
    enabled: bool
    connected: bool = False
    last_frame_at: datetime | None = None
    measured_fps: float | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime


class ReadPage(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
