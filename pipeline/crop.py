"""Crop stage: cut each detected plate out of its frame with a small margin."""

from __future__ import annotations

from pipeline.records import Detection, Frame, PlateCrop

DEFAULT_MARGIN = 0.0  # of the box size on each side: the detector box already holds the plate; wider crops read worse


def crop_plate(frame: Frame, detection: Detection, margin: float = DEFAULT_MARGIN) -> PlateCrop:
    box = detection.box
    dx, dy = box.width * margin, box.height * margin
    x1, y1 = max(0, int(box.x1 - dx)), max(0, int(box.y1 - dy))
    x2, y2 = min(frame.width, round(box.x2 + dx)), min(frame.height, round(box.y2 + dy))
    return PlateCrop(detection=detection, image=frame.image[y1:y2, x1:x2])
