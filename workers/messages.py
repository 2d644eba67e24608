"""Records that cross process boundaries: frames on the queue, reads on the way to storage and the feed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FrameMessage:
    """One sampled frame as JPEG bytes. `camera_id` is None for frames of an uploaded video job."""

    jpeg: bytes
    camera_id: int | None = None
    captured_at: datetime = field(default_factory=utcnow)
    frame_id: str = field(default_factory=lambda: uuid4().hex)
    job_id: str | None = None  # offline video jobs
    enqueued_at: datetime = field(default_factory=utcnow)  # queue wait is measured from here

    def to_fields(self) -> dict[str, bytes | str]:
        """Redis stream fields (flat strings/bytes)."""
        return {
            "jpeg": self.jpeg,
            "camera_id": "" if self.camera_id is None else str(self.camera_id),
            "captured_at": self.captured_at.isoformat(),
            "frame_id": self.frame_id,
            "job_id": self.job_id or "",
            "enqueued_at": self.enqueued_at.isoformat(),
        }

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes] | dict[str, Any]) -> FrameMessage:
        get = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}

        def text(key: str) -> str:
            value = get.get(key, b"")
            return value.decode() if isinstance(value, bytes) else str(value)

        jpeg = get["jpeg"]
        return cls(
            jpeg=jpeg if isinstance(jpeg, bytes) else str(jpeg).encode("latin-1"),
            camera_id=int(text("camera_id")) if text("camera_id") else None,
            captured_at=datetime.fromisoformat(text("captured_at")),
            frame_id=text("frame_id"),
            job_id=text("job_id") or None,
            enqueued_at=datetime.fromisoformat(text("enqueued_at")) if text("enqueued_at") else utcnow(),
        )


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """A plate read ready to be stored and published."""

    plate: str
    confidence: float  # 0..100
    candidates: list[dict[str, Any]]  # [{"plate", "confidence", "matches_template"}]
    box: dict[str, int]  # {"x", "y", "width", "height"}
    captured_at: datetime
    camera_id: int | None = None
    frame_id: str = ""
    job_id: str | None = None
    region: str = ""
    detection_confidence: float = 0.0  # 0..100
    crop_path: str | None = None  # relative to the data dir
    matches_template: bool | None = None  # the template policy's verdict; None when off or no template applies

    def to_json(self) -> str:
        data = asdict(self)
        data["captured_at"] = self.captured_at.isoformat()
        return json.dumps(data)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A vehicle pass voted from one track of reads, ready to be stored and published."""

    plate: str
    confidence: float  # 0..100
    candidates: list[dict[str, Any]]  # [{"plate", "confidence", "matches_template"}], best first
    first_seen: datetime
    last_seen: datetime
    frames: int  # reads that voted
    camera_id: int | None = None
    region: str = ""
    best_read_id: int | None = None
    best_crop_path: str | None = None  # the best read's crop, shared (not copied)
    read_ids: tuple[int, ...] = ()  # every read of the track, voting or not
