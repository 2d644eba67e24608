"""The typed records that flow between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels of the original frame."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    def intersection(self, other: Box) -> float:
        """Area shared with `other`."""
        iw = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        ih = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        return iw * ih

    def iou(self, other: Box) -> float:
        inter = self.intersection(other)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0

    def covers(self, other: Box) -> float:
        """The share of `other`'s area that lies inside this box."""
        area = other.width * other.height
        return self.intersection(other) / area if area > 0 else 0.0

    def as_xywh(self) -> dict[str, int]:
        return {"x": round(self.x1), "y": round(self.y1), "width": round(self.width), "height": round(self.height)}


@dataclass(slots=True)
class Frame:
    """A decoded image: RGB uint8, H x W x 3."""

    image: np.ndarray
    source: str = ""
    captured_at: datetime | None = None

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class Detection:
    box: Box
    confidence: float  # 0..1


@dataclass(slots=True)
class PlateCrop:
    detection: Detection
    box: Box  # the region cut: the detector's box with the crop margins applied, in whole pixels
    image: np.ndarray  # RGB pixels of `box`
    # The box at the detector's own height, where the margins trim it: a two-line plate's lines are looked for
    # here, as the trim that fits one-line plates cuts into their top and bottom lines. None: use `image`.
    full_height: np.ndarray | None = None
    # The box trimmed more (CropMargins.second_y), which the second reader also reads; None: a crop cut at the
    # plate's edge already (a labelled crop), or no tighter margin set.
    tight: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class CharGuess:
    """One emitted character and its alternatives, best first, as (char, probability)."""

    options: tuple[tuple[str, float], ...]

    @property
    def best(self) -> tuple[str, float]:
        return self.options[0]


@dataclass(frozen=True, slots=True)
class RawText:
    """The recognizer's decoded output for one crop, before format rules."""

    chars: tuple[CharGuess, ...]
    # With several test-time views: the strings any view read, best first, as (text, log-likelihood averaged over
    # the views). Empty when the crop was read once; then candidates come from `chars`.
    scored: tuple[tuple[str, float], ...] = ()

    @property
    def text(self) -> str:
        return "".join(c.best[0] for c in self.chars)


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    plate: str
    confidence: float  # 0..100
    matches_template: bool = False


@dataclass(slots=True)
class PlateRead:
    detection: Detection  # the detector's raw output
    box: Box  # the plate as read (the crop's region): what the product reports
    plate: str
    confidence: float  # 0..100
    candidates: list[PlateCandidate]
    region: str = ""
    matches_template: bool = False
    # matches_template as judged by the template policy: None when it is off or no template applies
    template_verdict: bool | None = None
    crop: np.ndarray | None = field(default=None, repr=False)


@dataclass(slots=True)
class FrameResult:
    source: str
    width: int
    height: int
    reads: list[PlateRead]
    processing_time_ms: float
