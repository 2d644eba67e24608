"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.zones import check_zones

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


# A zone is a polygon of [x, y] points, each a fraction (0..1) of the frame's width and height from its top left.
Zone = list[tuple[float, float]]
ZONES_DOC = "polygons of [x, y] points in 0..1 (fractions of the frame); a read counts if its centre is in one"
MIN_WIDTH_DOC = "reads whose box is narrower than this many pixels are ignored"


def validated_zones(zones: list[Zone] | None) -> list[Zone] | None:
    """Pydantic validator: ValueError from check_zones becomes a 422 naming the zone and the problem."""
    if zones is None:
        return None
    return [[(x, y) for x, y in zone] for zone in check_zones(zones)]


class CameraIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=1, max_length=2000)
    fps: float = Field(5.0, gt=0, le=60, description="frames analysed per second")
    enabled: bool = True
    zones: list[Zone] = Field(default_factory=list, description=ZONES_DOC)
    min_plate_width: int = Field(0, ge=0, le=100_000, description=MIN_WIDTH_DOC)

    zones_valid = field_validator("zones")(validated_zones)

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
    zones: list[Zone] | None = Field(None, description=ZONES_DOC + "; [] = the whole frame")
    min_plate_width: int | None = Field(None, ge=0, le=100_000, description=MIN_WIDTH_DOC)

    zones_valid = field_validator("zones")(validated_zones)


class CameraOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    url: str
    fps: float
    enabled: bool
    zones: list[Zone] = []
    min_plate_width: int = 0
    connected: bool = False
    last_frame_at: datetime | None = None
    measured_fps: float | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime


class ReadPage(BaseModel):
    items: list[dict[str, object]]
    next_cursor: str | None
