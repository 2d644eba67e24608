"""API shapes of stored rows (pydantic), shared by the HTTP API, the live feed and the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ReadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int | None
    job_id: str | None
    frame_id: str
    plate: str
    confidence: float
    detection_confidence: float
    region: str
    candidates: list[dict[str, Any]]
    box: dict[str, int]
    captured_at: datetime
    created_at: datetime
    event_id: int | None = None
    matches_template: bool | None = None  # NULL unless PLATESTREAM_TEMPLATE_POLICY is flag or drop
    crop_url: str | None = None


def read_payload(row: Any) -> dict[str, Any]:
    """JSON-ready dict of a stored read; the crop is served by the API, never by file path."""
    out = ReadOut.model_validate(row)
    if getattr(row, "crop_path", None):
        out.crop_url = f"/v1/reads/{row.id}/crop.jpg"
    return out.model_dump(mode="json")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    camera_id: int | None
    plate: str
    confidence: float
    candidates: list[dict[str, Any]]
    first_seen: datetime
    last_seen: datetime
    frames: int
    best_read_id: int | None
    region: str
    created_at: datetime
    crop_url: str | None = None


def event_payload(row: Any) -> dict[str, Any]:
    """JSON-ready dict of a stored event; its crop (the best read's) is served at /v1/events/{id}/crop.jpg."""
    out = EventOut.model_validate(row)
    if getattr(row, "best_crop_path", None):
        out.crop_url = f"/v1/events/{row.id}/crop.jpg"
    return out.model_dump(mode="json")
